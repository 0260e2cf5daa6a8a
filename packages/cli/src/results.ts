/**
 * Results of a reproduction: per row and seed the proxy metrics of `ediy eval`, their
 * mean and spread over seeds, and the Markdown table that sets them beside the paper's
 * COCO numbers.
 */
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
  /** Sample standard deviation (n - 1 in the denominator); 0 for a single value. */
  std: number;
  /** Number of finite values. */
  n: number;
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
  /** Wall-clock seconds of this invocation. */
  seconds: number;
  /** ISO time of writing. */
  createdAt: string;
}

/** Mean and sample standard deviation of the finite values of `values`. */
export function summarize(values: readonly number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, std, n };
}

/** The summary of every metric over a row's runs. */
export function summarizeRuns(runs: readonly RunResult[]): Record<keyof EvalMetrics, Summary> {
  const out = {} as Record<keyof EvalMetrics, Summary>;
  for (const { key } of METRICS) out[key] = summarize(runs.map((r) => r.metrics[key]));
  return out;
}

/** `0.512 ± 0.013` (or `0.512` for one seed, `n/a` for none). */
export function formatSummary(s: Summary, digits = 3): string {
  if (s.n === 0 || !Number.isFinite(s.mean)) return 'n/a';
  return s.n < 2 ? s.mean.toFixed(digits) : `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
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

/**
 * `results.md`: our proxy metrics beside the paper's numbers, one line per row, mean ±
 * sample standard deviation over seeds, with a statement of what the numbers are.
 */
export function resultsMarkdown(results: ReproduceResults, plots: readonly string[] = []): string {
  const cols = paperColumns(results.rows);
  const epochs = results.rows.find((r) => r.paper)?.paper?.epochs;
  const lines: string[] = [];
  lines.push(`# ${results.table} at preset \`${results.preset}\``);
  lines.push('');
  lines.push(
    `Seeds ${results.seeds.join(', ')}; backend ${results.backend}; data ${results.data}; ${results.rows.length} rows; ${results.seconds.toFixed(0)} s.` +
      (results.teacher
        ? ` Teacher: Table 1's BYOL row at this preset (\`${results.teacher}\`).`
        : ''),
  );
  lines.push('');
  lines.push(
    `**What these numbers are.** The paper's columns (${cols.join(', ') || 'none'}) are COCO detection and instance-segmentation APs of ` +
      `Mask R-CNN R50-FPN fine-tuned from a ResNet-50 pre-trained ${epochs ?? 'hundreds of'} epochs on ImageNet-1K. Ours are proxy metrics ` +
      `of a much smaller backbone trained at the \`${results.preset}\` preset, measured on held-out images with frozen features: kNN and linear-probe ` +
      'top-1 accuracy, dense-probe mIoU, the mean cosine similarity between regions of an image (lower is more diverse) and the effective rank ' +
      "of the region features (higher is more diverse). They are not the paper's APs and are not on the same scale; compare rows with each other, " +
      'not with the paper. Values are mean ± sample standard deviation over seeds.',
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
    'final loss',
    ...METRICS.map((m) => `${m.label} ${m.higherIsBetter ? '↑' : '↓'}`),
  ];
  lines.push(`| ${header.join(' | ')} |`);
  lines.push(`|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const row of results.rows) {
    const paper = cols.map((c) => {
      const v = row.paper?.numbers[c];
      return v === undefined ? '' : v.toFixed(1);
    });
    const loss = formatSummary(summarize(row.runs.map((r) => r.finalLoss)));
    const metrics = METRICS.map((m) => formatSummary(row.summary[m.key]));
    lines.push(`| ${[cell(row.label), ...paper, loss, ...metrics].join(' | ')} |`);
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
