/**
 * Two plots on a {@link Raster}: a line chart (loss curves) and a horizontal bar chart
 * with error bars (a metric per row, mean and spread over seeds).
 */
import { lineHeight, Raster, seriesColour, textWidth, type Rgb } from './raster.js';

/**
 * Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten,
 * about `count` of them. A degenerate range is widened around its value.
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi))
    throw new RangeError(`tick range must be finite, got [${lo}, ${hi}]`);
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(lo / step) * step;
  const ticks: number[] = [];
  for (let t = first; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if ((ticks[ticks.length - 1] ?? -Infinity) < hi)
    ticks.push(Number((first + ticks.length * step).toPrecision(12)));
  return ticks;
}

/** A tick label: few digits, exponent form for very large or small values. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return 'N/A';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/** One line of a {@link lineChart}. */
export interface LineSeries {
  /** Legend label. */
  label: string;
  /** x values. */
  x: readonly number[];
  /** y values (non-finite points are skipped, breaking the line). */
  y: readonly number[];
}

/** Options of {@link lineChart}. */
export interface LineChartOptions {
  /** Title above the plot. */
  title: string;
  /** x axis label. */
  xLabel: string;
  /** y axis label. */
  yLabel: string;
  /** The lines. */
  series: readonly LineSeries[];
  /** Image width (default 720). */
  width?: number;
  /** Image height (default 420). */
  height?: number;
}

const INK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];

/** Draws series as lines with axes, ticks, a grid and a legend on the right. */
export function lineChart(options: LineChartOptions): Raster {
  const { series } = options;
  if (series.length === 0) throw new Error('lineChart needs at least one series');
  series.forEach((s, i) => {
    if (s.x.length !== s.y.length)
      throw new Error(
        `series ${i} (${s.label}) has ${s.x.length} x values and ${s.y.length} y values; expected equal lengths`,
      );
  });
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const img = new Raster(width, height);
  const pts = series
    .flatMap((s) => s.x.map((x, i) => [x, s.y[i] as number] as const))
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const xt = niceTicks(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1, 6);
  const yt = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1, 5);
  const legendW = Math.max(...series.map((s) => textWidth(s.label))) + 28;
  const yLabelW = Math.max(...yt.map((t) => textWidth(formatNumber(t))));
  const left = yLabelW + 14;
  const top = 28;
  const right = width - legendW - 12;
  const bottom = height - 36;
  const x0 = xt[0] as number;
  const x1 = xt[xt.length - 1] as number;
  const y0 = yt[0] as number;
  const y1 = yt[yt.length - 1] as number;
  const px = (x: number): number => left + ((x - x0) / (x1 - x0)) * (right - left);
  const py = (y: number): number => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
  img.text(options.title, width / 2, 8, INK, 1, 'center');
  for (const t of yt) {
    img.line(left, py(t), right, py(t), GRID);
    img.text(formatNumber(t), left - 6, py(t) - 3, INK, 1, 'right');
  }
  for (const t of xt) {
    img.line(px(t), top, px(t), bottom, GRID);
    img.text(formatNumber(t), px(t), bottom + 6, INK, 1, 'center');
  }
  img.line(left, bottom, right, bottom, INK);
  img.line(left, top, left, bottom, INK);
  img.text(options.xLabel, (left + right) / 2, height - 14, INK, 1, 'center');
  img.text(options.yLabel, 4, top - 16, INK);
  series.forEach((s, i) => {
    const colour = seriesColour(i);
    let prev: [number, number] | undefined;
    for (let k = 0; k < s.x.length; k++) {
      const x = s.x[k] as number;
      const y = s.y[k] as number;
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        prev = undefined;
        continue;
      }
      const p: [number, number] = [px(x), py(y)];
      if (prev) img.line(prev[0], prev[1], p[0], p[1], colour, 2);
      else img.fillRect(p[0] - 1, p[1] - 1, 3, 3, colour);
      prev = p;
    }
    const ly = top + i * lineHeight();
    img.fillRect(right + 14, ly + 2, 10, 4, colour);
    img.text(s.label, right + 28, ly, INK);
  });
  return img;
}

/** One bar of a {@link barChart}. */
export interface Bar {
  /** Label left of the bar. */
  label: string;
  /** The bar's value (NaN: drawn as N/A). */
  value: number;
  /** Half-length of the error bar (e.g. the standard deviation over seeds); 0 or absent for none. */
  spread?: number;
}

/** Options of {@link barChart}. */
export interface BarChartOptions {
  /** Title above the bars. */
  title: string;
  /** The bars, top to bottom. */
  bars: readonly Bar[];
  /** Image width (default 720). */
  width?: number;
}

/** Horizontal bars with error bars and value labels; the height follows the number of bars. */
export function barChart(options: BarChartOptions): Raster {
  const { bars } = options;
  if (bars.length === 0) throw new Error('barChart needs at least one bar');
  const width = options.width ?? 720;
  const rowH = 18;
  const top = 40;
  const height = top + bars.length * rowH + 30;
  const img = new Raster(width, height);
  const finite = bars.filter((b) => Number.isFinite(b.value));
  const lows = finite.map((b) => Math.min(0, b.value - (b.spread ?? 0)));
  const highs = finite.map((b) => Math.max(0, b.value + (b.spread ?? 0)));
  const ticks = niceTicks(
    lows.length ? Math.min(...lows) : 0,
    highs.length ? Math.max(...highs) : 1,
    5,
  );
  const labelW = Math.max(...bars.map((b) => textWidth(b.label)));
  const valueW = Math.max(...bars.map((b) => textWidth(valueText(b))));
  const left = labelW + 16;
  const right = width - valueW - 16;
  const t0 = ticks[0] as number;
  const t1 = ticks[ticks.length - 1] as number;
  const px = (v: number): number => left + ((v - t0) / (t1 - t0)) * (right - left);
  const bottom = top + bars.length * rowH;
  img.text(options.title, width / 2, 10, INK, 1, 'center');
  for (const t of ticks) {
    img.line(px(t), top - 4, px(t), bottom, GRID);
    img.text(formatNumber(t), px(t), bottom + 6, INK, 1, 'center');
  }
  img.line(
    px(Math.max(t0, Math.min(0, t1))),
    top - 4,
    px(Math.max(t0, Math.min(0, t1))),
    bottom,
    INK,
  );
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    img.text(b.label, left - 8, y + 5, INK, 1, 'right');
    if (Number.isFinite(b.value)) {
      const a = px(Math.min(0, b.value));
      const z = px(Math.max(0, b.value));
      img.fillRect(a, y + 3, Math.max(1, z - a), rowH - 6, seriesColour(i));
      const s = b.spread ?? 0;
      if (s > 0) {
        const cy = y + rowH / 2;
        img.line(px(b.value - s), cy, px(b.value + s), cy, INK);
        img.line(px(b.value - s), cy - 3, px(b.value - s), cy + 3, INK);
        img.line(px(b.value + s), cy - 3, px(b.value + s), cy + 3, INK);
      }
    }
    img.text(valueText(b), right + 8, y + 5, INK);
  });
  return img;
}

function valueText(b: Bar): string {
  if (!Number.isFinite(b.value)) return 'N/A';
  const s = b.spread ?? 0;
  return s > 0 ? `${b.value.toFixed(3)} +- ${s.toFixed(3)}` : b.value.toFixed(3);
}
