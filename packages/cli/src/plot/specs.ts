/**
 * Vega-Lite specifications of the reproduction's plots: a dot plot of every metric per
 * row (mean over seeds with its 95% interval, the untrained backbone as a dashed
 * reference line, the best row marked) and the loss curves of every term. Plain data
 * in, a spec out: {@link renderSvg} draws them.
 */
import type { TopLevelSpec } from 'vega-lite';
import { FONT_FAMILY } from '@ediy/eval/node';

/** Colour of the dots and lines of ordinary rows, and of the best row. */
export const PLOT_COLOURS = { row: '#4c78a8', best: '#e45756', reference: '#555555' } as const;

const CONFIG = {
  font: FONT_FAMILY,
  background: 'white',
  view: { stroke: '#dddddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320 },
  legend: { labelLimit: 320 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 14, subtitleFontSize: 11 },
};

/** One dot of a {@link metricDotPlotSpec}: a row's value of one metric. */
export interface MetricPoint {
  /** The row's label (y axis). */
  row: string;
  /** The metric's label (one panel each). */
  metric: string;
  /** The mean over seeds. */
  mean: number;
  /** Lower end of the 95% interval, when there is one. */
  low?: number;
  /** Upper end of the 95% interval, when there is one. */
  high?: number;
  /** The best row of this metric. */
  best?: boolean;
  /** The untrained backbone: drawn as a dashed vertical line instead of a dot. */
  reference?: boolean;
}

/** Options of {@link metricDotPlotSpec}. */
export interface MetricDotPlotOptions {
  /** The title. */
  title: string;
  /** A line under the title (default: how to read the plot). */
  subtitle?: string;
  /** Rows in this order top to bottom (default: first appearance). */
  rows?: readonly string[];
  /** Panels in this order (default: first appearance). */
  metrics?: readonly string[];
}

/** The x scale of the dot plot: not from 0, a little room beyond the extreme marks. */
const X_SCALE = { zero: false, padding: 12 };

function checkFinite(value: unknown, what: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new RangeError(`${what} must be a finite number, got ${String(value)}`);
}

/**
 * A dot plot, one panel per metric stacked vertically with its own x scale (not from 0):
 * one dot per row at its mean, a horizontal rule over its 95% interval where the point
 * has one, the best row in {@link PLOT_COLOURS}.best, and a dashed vertical line at the
 * reference (untrained) value. Points with a non-finite mean are left out.
 * @throws when there is no point, or an interval end is given and not finite.
 */
export function metricDotPlotSpec(
  points: readonly MetricPoint[],
  options: MetricDotPlotOptions,
): TopLevelSpec {
  const finite = points.filter((p) => Number.isFinite(p.mean));
  if (finite.length === 0) throw new Error('metricDotPlotSpec needs at least one finite point');
  finite.forEach((p, i) => {
    if (p.low !== undefined) checkFinite(p.low, `points[${i}].low (${p.row}, ${p.metric})`);
    if (p.high !== undefined) checkFinite(p.high, `points[${i}].high (${p.row}, ${p.metric})`);
  });
  const unique = (xs: string[]): string[] => [...new Set(xs)];
  const rows = options.rows ?? unique(finite.filter((p) => !p.reference).map((p) => p.row));
  const metrics = options.metrics ?? unique(finite.map((p) => p.metric));
  const values = finite.map((p) => ({
    row: p.row,
    metric: p.metric,
    mean: p.mean,
    low: p.low ?? null,
    high: p.high ?? null,
    best: p.best === true,
    reference: p.reference === true,
  }));
  const y = { field: 'row', type: 'nominal', sort: rows, title: null } as const;
  const hasReference = values.some((v) => v.reference);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: options.title,
      subtitle: options.subtitle ?? [
        'dot: mean over seeds; line: its 95% interval; red: the best row',
        ...(hasReference ? ['dashed: the untrained backbone'] : []),
      ],
    },
    data: { values },
    facet: {
      row: {
        field: 'metric',
        type: 'nominal',
        sort: metrics,
        title: null,
        header: {
          labelAngle: 0,
          labelOrient: 'top',
          labelAnchor: 'start',
          labelFontWeight: 'bold',
        },
      },
    },
    resolve: { scale: { x: 'independent' } },
    spec: {
      width: 420,
      height: { step: 18 },
      layer: [
        {
          transform: [{ filter: '!datum.reference && isValid(datum.low) && isValid(datum.high)' }],
          mark: { type: 'rule', strokeWidth: 1.5, color: '#333333' },
          encoding: {
            y,
            x: { field: 'low', type: 'quantitative', scale: X_SCALE, title: null },
            x2: { field: 'high' },
          },
        },
        {
          transform: [{ filter: '!datum.reference' }],
          mark: { type: 'point', filled: true, size: 60, opacity: 1 },
          encoding: {
            y,
            x: { field: 'mean', type: 'quantitative', scale: X_SCALE, title: null },
            color: {
              condition: { test: 'datum.best', value: PLOT_COLOURS.best },
              value: PLOT_COLOURS.row,
            },
            tooltip: [
              { field: 'row' },
              { field: 'mean', format: '.4f' },
              { field: 'low', format: '.4f' },
              { field: 'high', format: '.4f' },
            ],
          },
        },
        {
          transform: [{ filter: 'datum.reference' }],
          mark: { type: 'rule', strokeDash: [5, 4], color: PLOT_COLOURS.reference },
          encoding: { x: { field: 'mean', type: 'quantitative' } },
        },
        {
          transform: [{ filter: 'datum.reference' }],
          mark: {
            type: 'text',
            text: 'untrained',
            align: 'center',
            baseline: 'bottom',
            dy: -2,
            fontSize: 10,
            color: PLOT_COLOURS.reference,
          },
          encoding: { x: { field: 'mean', type: 'quantitative' }, y: { value: 0 } },
        },
      ],
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** One point of a {@link lossCurvesSpec}: a row's value of one loss term at a step. */
export interface LossPoint {
  /** The row (one colour each). */
  row: string;
  /** The loss term (one panel each), e.g. `byol`, `rdem`, or `total (Eq. 3)`. */
  term: string;
  /** Optimiser step. */
  step: number;
  /** The value (mean over seeds). */
  value: number;
}

/** Options of {@link lossCurvesSpec}. */
export interface LossCurvesOptions {
  /** The title. */
  title: string;
  /** Panels in this order (default: first appearance). */
  terms?: readonly string[];
}

/**
 * Loss curves: one panel per term (its own y scale, two panels a line), one coloured
 * line per row. Non-finite values are left out.
 * @throws when there is no finite point.
 */
export function lossCurvesSpec(
  points: readonly LossPoint[],
  options: LossCurvesOptions,
): TopLevelSpec {
  const values = points.filter((p) => Number.isFinite(p.value) && Number.isFinite(p.step));
  if (values.length === 0) throw new Error('lossCurvesSpec needs at least one finite point');
  const terms = options.terms ?? [...new Set(values.map((p) => p.term))];
  const rows = [...new Set(values.map((p) => p.row))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: options.title, subtitle: 'each term before weighting; mean over seeds' },
    data: { values: values.map((p) => ({ ...p })) },
    facet: { field: 'term', type: 'nominal', sort: terms, title: null },
    columns: 2,
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 300,
      height: 180,
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { field: 'value', type: 'quantitative', scale: { zero: false }, title: null },
        color: { field: 'row', type: 'nominal', sort: rows, title: 'row' },
      },
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** One point of a {@link monitorCurvesSpec}: a run's kNN monitor value at a step. */
export interface MonitorPoint {
  /** The row (one colour each). */
  row: string;
  /** The run's seed (one line each within a row's colour). */
  seed: number;
  /** Optimiser step. */
  step: number;
  /** The monitor's kNN top-1, in [0, 1]. */
  value: number;
}

/** Options of {@link monitorCurvesSpec}. */
export interface MonitorCurvesOptions {
  /** The title. */
  title: string;
  /** A line under the title (default: what the monitor measures). */
  subtitle?: string;
}

/**
 * The kNN monitor's curves: kNN top-1 on the monitor's held-out images against the
 * step, one line (with its measurements as dots) per row and seed, a colour per row and
 * a dash pattern per seed. Non-finite values are left out.
 * @throws when there is no finite point.
 */
export function monitorCurvesSpec(
  points: readonly MonitorPoint[],
  options: MonitorCurvesOptions,
): TopLevelSpec {
  const values = points.filter((p) => Number.isFinite(p.value) && Number.isFinite(p.step));
  if (values.length === 0) throw new Error('monitorCurvesSpec needs at least one finite point');
  const rows = [...new Set(values.map((p) => p.row))];
  const seeds = [...new Set(values.map((p) => p.seed))].sort((a, b) => a - b);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: options.title,
      subtitle:
        options.subtitle ??
        'kNN top-1 of the online backbone during training, on a fixed held-out sample (the kNN monitor)',
    },
    data: { values: values.map((p) => ({ ...p, run: `${p.row} seed ${p.seed}` })) },
    width: 460,
    height: 260,
    mark: { type: 'line', strokeWidth: 1.5, point: { filled: true, size: 30 } },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: {
        field: 'value',
        type: 'quantitative',
        scale: { zero: false },
        axis: { format: '.0%' },
        title: 'kNN top-1 (monitor)',
      },
      color: { field: 'row', type: 'nominal', sort: rows, title: 'row' },
      strokeDash: { field: 'seed', type: 'ordinal', sort: seeds, title: 'seed' },
      detail: { field: 'run', type: 'nominal' },
      tooltip: [{ field: 'run' }, { field: 'step' }, { field: 'value', format: '.4f' }],
    },
    config: CONFIG,
  } as TopLevelSpec;
}
