/**
 * Results of a reproduction: per row and seed the proxy metrics of `ediy eval`, their
 * mean and spread over seeds, and the Markdown table that sets them beside the paper's
 * COCO numbers.
 */
import { tInterval, type Interval } from '@ediy/eval';
import type { PaperRow } from '@ediy/trainer';

/** The proxy metrics `ediy eval` measures on held-out images. */
export interface EvalMetrics {
  /** Weighted kNN top-1 accuracy (k = 20 at full scale, T = 0.07) on the pooled features. */
  knnTop1: number;
  /** Linear-probe top-1 accuracy on the pooled features. */
  linearTop1: number;
  /** Dense-probe mean IoU (per-region linear classifier, upsampled to the masks); NaN without masks. */
  denseMIoU: number;
  /** Mean cosine similarity between the regions of an image (lower: more diverse regions). */
  meanRegionCosine: number;
  /** Effective rank of all region features (higher: more diverse). */
  effectiveRank: number;
}

/** A metric's name, its column header and which direction is better. */
export interface MetricInfo {
  /** Key in {@link EvalMetrics}. */
  key: keyof EvalMetrics;
  /** Column header / plot title. */
  label: string;
  /** Whether a higher value is better. */
  higherIsBetter: boolean;
}

/** Every metric, in table order. */
export const METRICS: readonly MetricInfo[] = [
  { key: 'knnTop1', label: 'kNN top-1', higherIsBetter: true },
  { key: 'linearTop1', label: 'linear top-1', higherIsBetter: true },
  { key: 'denseMIoU', label: 'dense mIoU', higherIsBetter: true },
  { key: 'meanRegionCosine', label: 'region cosine', higherIsBetter: false },
  { key: 'effectiveRank', label: 'effective rank', higherIsBetter: true },
];

/** Mean and spread of a metric over seeds. */
export interface Summary {
  /** Mean of the finite values (NaN when there are none). */
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); null for fewer than two values. */
  std: number | null;
  /** Number of finite values. */
  n: number;
  /**
   * The 95% interval `[low, high]`: Student's t over seeds for two or more values
   * ({@link tInterval}), else the one run's bootstrap interval over test images, when it has one.
   */
  ci95?: readonly number[];
}

/** One trained and evaluated run. */
export interface RunResult {
  /** The run seed. */
  seed: number;
  /** The run directory. */
  runDir: string;
  /** Optimiser steps trained. */
  steps: number;
  /** Mean loss of the last logged step. */
  finalLoss: number;
  /** The metrics. */
  metrics: EvalMetrics;
  /** 95% intervals of the metrics that have one (bootstrap over the scored images). */
  intervals?: Partial<Record<keyof EvalMetrics, Interval>>;
}

/** One row of the table: its runs and their summary. */
export interface RowResult {
  /** Row id within the table (`ediy`). */
  id: string;
  /** The row config's name (`table1-ediy`). */
  name: string;
  /** The paper's label of the row, or the name. */
  label: string;
  /** The paper's row, with its numbers. */
  paper?: PaperRow;
  /** One entry per seed. */
  runs: RunResult[];
  /** Mean and spread of every metric over the runs. */
  summary: Record<keyof EvalMetrics, Summary>;
}

/** What `ediy reproduce` writes to `results.json`. */
export interface ReproduceResults {
  /** `table1` or `table2`. */
  table: string;
  /** The preset. */
  preset: string;
  /** The seeds. */
  seeds: number[];
  /** What the backend really was (`wasm on cpu`, ...). */
  backend: string;
  /** Training data (`scenes` or a path). */
  data: string;
  /** The teacher's run directory (Table 1's BYOL row at the preset), if one was trained. */
  teacher?: string;
  /** The rows, in the paper's order. */
  rows: RowResult[];
  /**
   * Seconds of work the report covers: the wall time of the `ediy reproduce` invocation
   * that trained and collected, or for `--collect` alone (sharded and Slurm runs) the
   * training and evaluation seconds the runs recorded, summed.
   */
  seconds: number;
  /**
   * How {@link ReproduceResults.seconds} was measured: `wall`, the wall time of the
   * invocation that trained and collected; `recorded`, the runs' recorded training and
   * evaluation seconds summed (`--collect`, `ediy report`), which is not a wall time.
   * Absent in files written before it was added.
   */
  secondsKind?: 'wall' | 'recorded';
  /** ISO time of writing. */
  createdAt: string;
}

/** The report's words for {@link ReproduceResults.seconds}: a wall time, or the runs' recorded seconds summed. */
export function secondsText(results: Pick<ReproduceResults, 'seconds' | 'secondsKind'>): string {
  const n = results.seconds.toFixed(0);
  if (results.secondsKind === 'wall') return `${n} s wall`;
  if (results.secondsKind === 'recorded')
    return `${n} s of training and evaluation, the runs' recorded seconds summed (not a wall time)`;
  return `${n} s`;
}

/** Mean and sample standard deviation of the finite values of `values`. */
export function summarize(values: readonly number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { mean: NaN, std: null, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? null : Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, std, n };
}

/** The summary of every metric over a row's runs, with its 95% interval where there is one (see {@link Summary.ci95}). */
export function summarizeRuns(runs: readonly RunResult[]): Record<keyof EvalMetrics, Summary> {
  const out = {} as Record<keyof EvalMetrics, Summary>;
  for (const { key } of METRICS) {
    const values = runs.map((r) => r.metrics[key]);
    const s = summarize(values);
    const ci =
      s.n >= 2
        ? tInterval(values)
        : runs.find((r) => Number.isFinite(r.metrics[key]))?.intervals?.[key];
    out[key] =
      ci && Number.isFinite(ci.low) && Number.isFinite(ci.high)
        ? { ...s, ci95: [ci.low, ci.high] }
        : s;
  }
  return out;
}

/**
 * `0.512 ± 0.013` (mean ± sample standard deviation), followed by the 95% interval
 * `[0.498, 0.526]` when the summary carries one (`ci95`); `0.512` for one seed without
 * an interval, `n/a` for none.
 */
export function formatSummary(s: Summary, digits = 3): string {
  if (s.n === 0 || !Number.isFinite(s.mean)) return 'n/a';
  const std = s.std;
  const head =
    std === null || !Number.isFinite(std) || s.n < 2
      ? s.mean.toFixed(digits)
      : `${s.mean.toFixed(digits)} ± ${std.toFixed(digits)}`;
  const ci = (s as Summary & { ci95?: unknown }).ci95;
  if (!Array.isArray(ci) || ci.length !== 2) return head;
  const [lo, hi] = ci as [unknown, unknown];
  if (typeof lo !== 'number' || typeof hi !== 'number' || !Number.isFinite(lo + hi)) return head;
  return `${head} [${lo.toFixed(digits)}, ${hi.toFixed(digits)}]`;
}

/** The paper's number columns shown: APbb and APmk when the rows have them. */
export function paperColumns(rows: readonly RowResult[]): string[] {
  const keys = new Set(rows.flatMap((r) => Object.keys(r.paper?.numbers ?? {})));
  const preferred = ['APbb', 'APmk'].filter((k) => keys.has(k));
  return preferred.length > 0 ? preferred : [...keys].slice(0, 2);
}

/** Escapes the characters that break a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The 95% interval a summary carries (`ci95: [low, high]`), when it is finite. */
export function intervalOf(summary: Summary): readonly [number, number] | undefined {
  const ci = (summary as Summary & { ci95?: unknown }).ci95;
  if (!Array.isArray(ci) || ci.length !== 2) return undefined;
  const [low, high] = ci as [unknown, unknown];
  return typeof low === 'number' && typeof high === 'number' && Number.isFinite(low + high)
    ? [low, high]
    : undefined;
}

/** Whether a row is the untrained (randomly initialised) backbone, a table's reference. */
export function isUntrainedRow(row: Pick<RowResult, 'id'> & { untrained?: unknown }): boolean {
  return row.untrained === true || row.id === 'untrained';
}

/**
 * The id of the best trained row of `metric` (highest mean, or lowest where lower is
 * better), or undefined when no trained row has a finite mean. The untrained row never
 * counts.
 */
export function bestRow(rows: readonly RowResult[], metric: MetricInfo): string | undefined {
  let best: RowResult | undefined;
  for (const row of rows) {
    if (isUntrainedRow(row)) continue;
    const v = row.summary[metric.key].mean;
    if (!Number.isFinite(v)) continue;
    const b = best?.summary[metric.key].mean;
    if (b === undefined || (metric.higherIsBetter ? v > b : v < b)) best = row;
  }
  return best?.id;
}

/** One trained row's differences from the untrained row in one metric, paired by seed. */
export interface PairedGain {
  /** The metric. */
  key: keyof EvalMetrics;
  /** The seeds both rows have a finite value of, in the row's order. */
  seeds: number[];
  /** Row minus untrained, per seed of {@link PairedGain.seeds}. */
  differences: number[];
  /** Mean of the differences (NaN when there are none). */
  mean: number;
  /** Student's t 95% interval of the mean difference (two or more seeds), else undefined. */
  ci95?: readonly [number, number];
  /**
   * `better` when the interval lies wholly on the better side of 0 (above it, or below it
   * for a metric where lower is better), `worse` when wholly on the other side, else
   * `inside` (0 in the interval, or no interval).
   */
  verdict: 'better' | 'worse' | 'inside';
}

/**
 * Every trained row's gain over the untrained row (the floor), metric by metric and
 * paired by seed: row minus floor of the same seed, so the spread between seeds'
 * initialisations (which moves the floor itself) cancels. Empty when the table has no
 * untrained row; metrics with no finite pair (the dense probe without masks) are left out.
 */
export function pairedGains(
  rows: readonly RowResult[],
): Array<{ row: RowResult; gains: PairedGain[] }> {
  const floor = rows.find((r) => isUntrainedRow(r));
  if (floor === undefined) return [];
  const out: Array<{ row: RowResult; gains: PairedGain[] }> = [];
  for (const row of rows) {
    if (isUntrainedRow(row)) continue;
    const gains: PairedGain[] = [];
    for (const m of METRICS) {
      const seeds: number[] = [];
      const differences: number[] = [];
      for (const run of row.runs) {
        const base = floor.runs.find((f) => f.seed === run.seed);
        const d = base === undefined ? NaN : run.metrics[m.key] - base.metrics[m.key];
        if (!Number.isFinite(d)) continue;
        seeds.push(run.seed);
        differences.push(d);
      }
      if (differences.length === 0) continue;
      const t = tInterval(differences);
      const ci95 =
        Number.isFinite(t.low) && Number.isFinite(t.high) ? ([t.low, t.high] as const) : undefined;
      const above = ci95 !== undefined && ci95[0] > 0;
      const below = ci95 !== undefined && ci95[1] < 0;
      const verdict = above || below ? (above === m.higherIsBetter ? 'better' : 'worse') : 'inside';
      const gain: PairedGain = { key: m.key, seeds, differences, mean: t.estimate, verdict };
      if (ci95 !== undefined) gain.ci95 = ci95;
      gains.push(gain);
    }
    out.push({ row, gains });
  }
  return out;
}

/** `+0.012`, `-0.034`: a signed difference. */
function signed(x: number, digits: number): string {
  return `${x >= 0 ? '+' : '-'}${Math.abs(x).toFixed(digits)}`;
}

/** Options of {@link resultsMarkdown}. */
export interface ResultsMarkdownOptions {
  /** The heading (default `<table> at preset <preset>`). */
  title?: string;
}

/**
 * `results.md`: our proxy metrics beside the paper's numbers, one line per row, mean ±
 * sample standard deviation over seeds and the 95% interval where the summary has one,
 * the best trained row of each metric in bold, with a statement of what the numbers
 * are. `plots` are linked as given (paths relative to the file).
 */
export function resultsMarkdown(
  results: ReproduceResults,
  plots: readonly string[] = [],
  options: ResultsMarkdownOptions = {},
): string {
  const cols = paperColumns(results.rows);
  const epochs = results.rows.find((r) => r.paper)?.paper?.epochs;
  const untrained = results.rows.some((r) => isUntrainedRow(r));
  const intervals = results.rows.some((r) =>
    METRICS.some((m) => intervalOf(r.summary[m.key]) !== undefined),
  );
  const lines: string[] = [];
  lines.push(`# ${options.title ?? `${results.table} at preset \`${results.preset}\``}`);
  lines.push('');
  lines.push(
    `Seeds ${results.seeds.join(', ')}; backend ${results.backend}; data ${results.data}; ${results.rows.length} rows; ${secondsText(results)}.` +
      (results.teacher
        ? ` Teacher: Table 1's BYOL row at this preset (\`${results.teacher}\`).`
        : ''),
  );
  lines.push('');
  const paperText =
    cols.length > 0
      ? `The paper's columns (${cols.join(', ')}) are COCO detection and instance-segmentation APs of ` +
        `Mask R-CNN R50-FPN fine-tuned from a ResNet-50 pre-trained ${epochs ?? 'hundreds of'} epochs on ImageNet-1K. `
      : '';
  lines.push(
    `**What these numbers are.** ${paperText}Ours are proxy metrics ` +
      `of a much smaller backbone trained at the \`${results.preset}\` preset, measured on held-out images with frozen features: kNN and linear-probe ` +
      'top-1 accuracy, dense-probe mIoU, the mean cosine similarity between regions of an image (lower is more diverse) and the effective rank ' +
      'of the region features (higher is more diverse).' +
      (cols.length > 0
        ? " They are not the paper's APs and are not on the same scale; compare rows with each other, not with the paper."
        : ' Compare rows with each other.') +
      ` Values are mean ± sample standard deviation over seeds (the mean alone for one seed)${
        intervals
          ? ", then the 95% interval in brackets (results.json's `ci95`: Student's t over seeds, or a bootstrap over the test images for one seed)"
          : ''
      }; **bold** marks the best trained row of each metric.` +
      (untrained
        ? ' The *untrained* row is the randomly initialised backbone evaluated the same way: the floor a method has to clear.'
        : ''),
  );
  lines.push('');
  lines.push(
    'The training loss is not a column: each row sums its own terms with its own weights (Eq. 3), so totals do not compare across rows; ' +
      'the loss-curves plot shows every term.',
  );
  lines.push('');
  if (results.preset === 'smoke') {
    lines.push(
      'The `smoke` preset trains a few steps of a tiny network: these numbers show that the pipeline runs and say nothing about the methods.',
    );
    lines.push('');
  }
  const header = [
    'Row',
    ...cols.map((c) => `paper ${c}`),
    ...METRICS.map((m) => `${m.label} ${m.higherIsBetter ? '↑' : '↓'}`),
  ];
  const best = METRICS.map((m) => bestRow(results.rows, m));
  lines.push(`| ${header.join(' | ')} |`);
  lines.push(`|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const row of results.rows) {
    const paper = cols.map((c) => {
      const v = row.paper?.numbers[c];
      return v === undefined ? '' : v.toFixed(1);
    });
    const metrics = METRICS.map((m, k) => {
      const text = formatSummary(row.summary[m.key]);
      return best[k] === row.id ? `**${text}**` : text;
    });
    const label = isUntrainedRow(row) ? `*${cell(row.label)}*` : cell(row.label);
    lines.push(`| ${[label, ...paper, ...metrics].join(' | ')} |`);
  }
  const gains = pairedGains(results.rows);
  if (gains.length > 0) {
    const shown = METRICS.filter((m) => gains.some((g) => g.gains.some((x) => x.key === m.key)));
    lines.push('');
    lines.push('## Against the untrained floor, paired by seed');
    lines.push('');
    lines.push(
      "Each cell is the row's value minus the untrained row's value **of the same seed**, averaged over the seeds, " +
        "then the 95% interval of that mean (Student's t over the seeds) and the seeds' own differences in parentheses. " +
        '**Bold**: the interval lies wholly on the better side of 0 (the row clears its floor beyond the interval); ' +
        '*italic*: wholly on the worse side. With many rows and metrics, about one interval in twenty excludes 0 by chance.',
    );
    lines.push('');
    const gh = ['Row − floor', ...shown.map((m) => `${m.label} ${m.higherIsBetter ? '↑' : '↓'}`)];
    lines.push(`| ${gh.join(' | ')} |`);
    lines.push(`|${gh.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`);
    for (const { row, gains: g } of gains) {
      const cells = shown.map((m) => {
        const x = g.find((y) => y.key === m.key);
        if (x === undefined) return 'n/a';
        const ci = x.ci95 ? ` [${signed(x.ci95[0], 3)}, ${signed(x.ci95[1], 3)}]` : '';
        const each = ` (${x.differences.map((d) => signed(d, 3)).join(', ')})`;
        const text = `${signed(x.mean, 3)}${ci}${each}`;
        return x.verdict === 'better' ? `**${text}**` : x.verdict === 'worse' ? `*${text}*` : text;
      });
      lines.push(`| ${[cell(row.label), ...cells].join(' | ')} |`);
    }
  }
  if (plots.length > 0) {
    lines.push('');
    lines.push('## Plots');
    lines.push('');
    for (const p of plots) lines.push(`![${p}](${p})`);
  }
  lines.push('');
  return lines.join('\n');
}
