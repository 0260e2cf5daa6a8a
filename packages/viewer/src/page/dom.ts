/** Small DOM helpers of the viewer page: elements, SVG elements, a line chart. */

type Attrs = Record<string, string | number>;

/** An HTML element with attributes and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

/** An SVG element with attributes and children. */
export function svg(tag: string, attrs: Attrs = {}, ...children: Array<Node | string>): SVGElement {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

/** One line of a {@link lineChart}. */
export interface Series {
  /** Legend text. */
  name: string;
  /** CSS colour. */
  colour: string;
  /** `[x, y]` points, x ascending. */
  points: Array<[number, number]>;
}

/** A line chart of some series, with its axes' ranges and a legend. */
export function lineChart(title: string, series: Series[], width = 420, height = 220): SVGElement {
  const pad = { l: 52, r: 12, t: 24, b: 30 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => pad.l + ((x - x0) / (x1 - x0 || 1)) * (width - pad.l - pad.r);
  const sy = (y: number) => height - pad.b - ((y - y0) / (y1 - y0 || 1)) * (height - pad.t - pad.b);
  const s = svg('svg', { width, height, class: 'chart' });
  const text = (x: number, y: number, t: string, anchor = 'start') =>
    svg('text', { x, y, 'font-size': 11, 'text-anchor': anchor, fill: '#444' }, t);
  const fmt = (v: number) => (Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : v.toPrecision(3));
  s.append(
    text(pad.l, 15, title),
    svg('line', {
      x1: pad.l,
      y1: height - pad.b,
      x2: width - pad.r,
      y2: height - pad.b,
      stroke: '#999',
    }),
    svg('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: height - pad.b, stroke: '#999' }),
    text(pad.l - 4, sy(y1) + 4, fmt(y1), 'end'),
    text(pad.l - 4, sy(y0) + 4, fmt(y0), 'end'),
    text(pad.l, height - 12, `step ${Math.round(x0)}`),
    text(width - pad.r, height - 12, `step ${Math.round(x1)}`, 'end'),
  );
  series.forEach((ser, i) => {
    const pts = ser.points.filter((p) => Number.isFinite(p[1]));
    s.append(
      svg('polyline', {
        points: pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' '),
        fill: 'none',
        stroke: ser.colour,
        'stroke-width': 1.8,
        'data-series': ser.name,
      }),
      text(width - pad.r, pad.t + 12 * i + 4, ser.name, 'end'),
    );
    (s.lastChild as SVGElement).setAttribute('fill', ser.colour);
  });
  return s;
}
