/**
 * The plots of a results table, and `ediy report`: results.json, results.md and plots
 * from run directories trained one by one (each with its `config.json`, `eval.json` and
 * `log.jsonl`), the same files `ediy reproduce` writes for a paper table.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import {
  readEvalRecord,
  readRunConfig,
  runPaths,
  writeFileAtomic,
  type StoredEvaluation,
} from '@ediy/core/node';
import type { Interval } from '@ediy/eval';
import type { ExperimentConfig, StepRecord } from '@ediy/trainer';
import { presetOf } from './evaluate.js';
import { describeData } from './options.js';
import {
  lossCurvesSpec,
  metricDotPlotSpec,
  monitorCurvesSpec,
  type LossPoint,
  type MetricPoint,
  type MonitorPoint,
} from './plot/specs.js';
import { savePlot } from './plot/render.js';
import {
  bestRow,
  intervalOf,
  isUntrainedRow,
  METRICS,
  resultsMarkdown,
  summarizeRuns,
  type ReproduceResults,
  type RowResult,
  type RunResult,
} from './results.js';
import { readStepLog } from './run-log.js';

/** The dots of {@link metricDotPlotSpec}: every row x metric, untrained rows as references. */
export function metricPoints(rows: readonly RowResult[]): MetricPoint[] {
  return METRICS.flatMap((m) => {
    const best = bestRow(rows, m);
    return rows.map((row) => {
      const s = row.summary[m.key];
      const ci = intervalOf(s);
      return {
        row: row.label,
        metric: `${m.label} (${m.higherIsBetter ? 'higher' : 'lower'} is better)`,
        mean: s.mean,
        ...(ci ? { low: ci[0], high: ci[1] } : {}),
        best: row.id === best,
        reference: isUntrainedRow(row),
      };
    });
  });
}

/** What {@link lossPoints} reads of a step record of `log.jsonl`. */
export type StepRecordLike = Pick<StepRecord, 'step' | 'loss' | 'terms'>;

/** Name of the weighted total in the loss plot. */
export const TOTAL_TERM = 'total (Eq. 3)';

/**
 * The lines of {@link lossCurvesSpec}: for each row, each loss term and the weighted
 * total, the mean over the runs' logs at every step logged, thinned to at most
 * `maxPoints` steps a line (evenly, keeping the last).
 */
export function lossPoints(
  rows: ReadonlyArray<{ label: string; logs: ReadonlyArray<readonly StepRecordLike[]> }>,
  maxPoints = 300,
): LossPoint[] {
  const out: LossPoint[] = [];
  for (const row of rows) {
    const sums = new Map<string, Map<number, { sum: number; n: number }>>();
    const add = (term: string, step: number, value: number): void => {
      if (!Number.isFinite(value)) return;
      const byStep = sums.get(term) ?? new Map<number, { sum: number; n: number }>();
      const s = byStep.get(step) ?? { sum: 0, n: 0 };
      s.sum += value;
      s.n += 1;
      byStep.set(step, s);
      sums.set(term, byStep);
    };
    for (const log of row.logs) {
      for (const r of log) {
        add(TOTAL_TERM, r.step, r.loss);
        for (const [term, v] of Object.entries(r.terms ?? {})) add(term, r.step, v);
      }
    }
    for (const [term, byStep] of sums) {
      const steps = [...byStep.keys()].sort((a, b) => a - b);
      const stride = Math.max(1, Math.ceil(steps.length / maxPoints));
      steps.forEach((step, i) => {
        if (i % stride !== 0 && i !== steps.length - 1) return;
        const s = byStep.get(step) as { sum: number; n: number };
        out.push({ row: row.label, term, step, value: s.sum / s.n });
      });
    }
  }
  return out;
}

/** What {@link monitorPoints} reads of a step record of `log.jsonl`. */
export type MonitorRecordLike = Pick<StepRecord, 'step' | 'monitor'>;

/**
 * The lines of {@link monitorCurvesSpec}: every kNN monitor measurement (`monitor` in
 * `log.jsonl`) of every run, by row and seed. Runs without the monitor add nothing.
 */
export function monitorPoints(
  rows: ReadonlyArray<{
    label: string;
    runs: ReadonlyArray<{ seed: number; log: readonly MonitorRecordLike[] }>;
  }>,
): MonitorPoint[] {
  return rows.flatMap((row) =>
    row.runs.flatMap((run) =>
      run.log.flatMap((r) =>
        r.monitor && Number.isFinite(r.monitor.knnTop1)
          ? [{ row: row.label, seed: run.seed, step: r.step, value: r.monitor.knnTop1 }]
          : [],
      ),
    ),
  );
}

/** What {@link writePlots} needs of a results table. */
export type PlotInput = Pick<ReproduceResults, 'table' | 'preset' | 'seeds' | 'rows'>;

/**
 * Draws the metric dot plot (`metrics.svg/png`), the loss curves of every term
 * (`loss-curves.svg/png`, from each run's `log.jsonl`) and, when runs ran the kNN
 * monitor, its curves (`monitor.svg/png`) into `plotDir`.
 * @returns the PNG paths written, for results.md.
 */
export async function writePlots(results: PlotInput, plotDir: string): Promise<string[]> {
  const written: string[] = [];
  const seeds = `${results.seeds.length} seed${results.seeds.length === 1 ? '' : 's'}`;
  const points = metricPoints(results.rows);
  if (points.some((p) => Number.isFinite(p.mean))) {
    const plot = await savePlot(
      metricDotPlotSpec(points, {
        title: `${results.table}, preset ${results.preset}: proxy metrics over ${seeds}`,
        rows: results.rows.filter((r) => !isUntrainedRow(r)).map((r) => r.label),
      }),
      join(plotDir, 'metrics'),
    );
    written.push(plot.png);
  }
  const trained = results.rows
    .filter((r) => !isUntrainedRow(r))
    .map((r) => ({
      label: r.label,
      runs: r.runs.map((run) => ({
        seed: run.seed,
        log: readStepLog(runPaths(run.runDir).log),
      })),
    }));
  const losses = lossPoints(
    trained.map((r) => ({ label: r.label, logs: r.runs.map((run) => run.log) })),
  );
  if (losses.length > 0) {
    const plot = await savePlot(
      lossCurvesSpec(losses, {
        title: `${results.table}, preset ${results.preset}: training loss`,
      }),
      join(plotDir, 'loss-curves'),
    );
    written.push(plot.png);
  }
  const monitor = monitorPoints(trained);
  if (monitor.length > 0) {
    const plot = await savePlot(
      monitorCurvesSpec(monitor, {
        title: `${results.table}, preset ${results.preset}: kNN monitor over ${seeds}`,
      }),
      join(plotDir, 'monitor'),
    );
    written.push(plot.png);
  }
  return written;
}

/**
 * A copy of `results` whose paths (run directories, teacher) are relative to `out`, so
 * results.json stays valid when the folder is moved or shared.
 */
export function portableResults<T extends ReproduceResults>(results: T, out: string): T {
  const rel = (p: string): string => relative(out, resolve(p)) || '.';
  return {
    ...results,
    ...(results.teacher !== undefined ? { teacher: rel(results.teacher) } : {}),
    rows: results.rows.map((row) => ({
      ...row,
      runs: row.runs.map((run) => ({ ...run, runDir: rel(run.runDir) })),
    })),
  };
}

/** What a run directory holds, for {@link rowsFromRuns}. */
interface RunFiles {
  config: ExperimentConfig;
  eval: EvalFile;
}

/** What report reads of an `eval.json` (or `eval-untrained.json`). */
interface EvalFile {
  metrics: Record<string, unknown>;
  intervals?: Record<string, { low?: unknown; high?: unknown } | undefined>;
  steps: number;
  finalLoss: number;
}

function metricsOf(evaluation: EvalFile): RunResult['metrics'] {
  return Object.fromEntries(
    METRICS.map(({ key }) => {
      const v = evaluation.metrics[key];
      return [key, typeof v === 'number' ? v : NaN];
    }),
  ) as unknown as RunResult['metrics'];
}

/** The run's recorded intervals (a bootstrap over its scored images), when it has any. */
function intervalsOf(evaluation: EvalFile): Pick<RunResult, 'intervals'> {
  const recorded = evaluation.intervals;
  if (typeof recorded !== 'object' || recorded === null) return {};
  const intervals: NonNullable<RunResult['intervals']> = {};
  for (const { key } of METRICS) {
    const i = recorded[key];
    if (i && typeof i.low === 'number' && typeof i.high === 'number')
      intervals[key] = i as Interval;
  }
  return Object.keys(intervals).length > 0 ? { intervals } : {};
}

function readRunFiles(runDir: string): RunFiles {
  const paths = runPaths(runDir);
  for (const path of [paths.config, paths.eval]) {
    if (!existsSync(path))
      throw new Error(
        `${runDir} has no ${basename(path)}; expected a finished run (ediy pretrain, then ediy eval)`,
      );
  }
  const config = readRunConfig<ExperimentConfig>(runDir);
  if (typeof config.name !== 'string' || typeof config.seed !== 'number')
    throw new Error(`${paths.config}: expected an experiment config with name and seed`);
  return { config, eval: readEvalRecord<EvalFile & StoredEvaluation>(paths.eval) };
}

/**
 * The rows of a table made of run directories: runs with the same config name are one
 * row (their seeds), in the order first given; each row is labelled with its paper
 * label or name.
 * @throws naming a directory that is not a finished, evaluated run, or a seed given twice.
 */
export function rowsFromRuns(runDirs: readonly string[]): RowResult[] {
  if (runDirs.length === 0) throw new Error('a report needs at least one run directory');
  const rows = new Map<string, { config: ExperimentConfig; runs: RunResult[] }>();
  for (const dir of runDirs) {
    const runDir = resolve(dir);
    const { config, eval: evaluation } = readRunFiles(runDir);
    const row = rows.get(config.name) ?? { config, runs: [] };
    const twin = row.runs.find((r) => r.seed === config.seed);
    if (twin)
      throw new Error(
        `${runDir} and ${twin.runDir} are both ${config.name} seed ${config.seed}; give each run once`,
      );
    row.runs.push({
      seed: config.seed,
      runDir,
      steps: evaluation.steps,
      finalLoss: typeof evaluation.finalLoss === 'number' ? evaluation.finalLoss : NaN,
      metrics: metricsOf(evaluation),
      ...intervalsOf(evaluation),
    });
    rows.set(config.name, row);
  }
  const out: RowResult[] = [...rows.entries()].map(([name, { config, runs }]) => ({
    id: name,
    name,
    label: config.paper?.label ?? name,
    ...(config.paper ? { paper: config.paper } : {}),
    runs: [...runs].sort((a, b) => a.seed - b.seed),
    summary: summarizeRuns(runs),
  }));
  const floor = floorFromRuns(runDirs.map((d) => resolve(d)));
  return floor && !out.some((r) => isUntrainedRow(r)) ? [...out, floor] : out;
}

/**
 * The untrained floor as a row (id `untrained`), from the first run directory that has
 * an `eval-untrained.json` (`ediy eval --untrained <run>`), or undefined.
 */
export function floorFromRuns(runDirs: readonly string[]): RowResult | undefined {
  for (const runDir of runDirs) {
    const path = runPaths(runDir).evalUntrained;
    if (!existsSync(path)) continue;
    const evaluation = readEvalRecord<EvalFile & StoredEvaluation>(path);
    const { config } = readRunFiles(runDir);
    const run: RunResult = {
      seed: config.seed,
      runDir,
      steps: 0,
      finalLoss: NaN,
      metrics: metricsOf(evaluation),
      ...intervalsOf(evaluation),
    };
    return {
      id: 'untrained',
      name: 'untrained',
      label: 'untrained',
      runs: [run],
      summary: summarizeRuns([run]),
    };
  }
  return undefined;
}

/** Options of {@link buildReport}. */
export interface BuildReportOptions {
  /** Run directories (each with config.json, eval.json and log.jsonl). */
  runs: readonly string[];
  /** Output folder (results.json, results.md, plots/). */
  out: string;
  /** The heading of results.md and name of the table (default `report`). */
  title?: string;
  /** Plots already drawn into `out` (e.g. a saliency grid), linked after the others. */
  extraPlots?: readonly string[];
  /** What the report says the backend was (default `not recorded`). */
  backend?: string;
}

/** What {@link buildReport} wrote. */
export interface BuiltReport {
  /** The results, as results.json holds them (paths relative to `out`). */
  results: ReproduceResults;
  /** Every file written. */
  files: string[];
}

/**
 * `ediy report`: results.json, results.md and the plots of {@link writePlots} from runs
 * made one by one ({@link rowsFromRuns}), as `ediy reproduce` writes them for a table.
 * The preset of each run is the one its scale matches.
 */
export async function buildReport(options: BuildReportOptions): Promise<BuiltReport> {
  const out = resolve(options.out);
  const rows = rowsFromRuns(options.runs);
  const configs = options.runs.map((r) => readRunFiles(resolve(r)));
  const presets = [...new Set(configs.map((c) => presetOf(c.config)))];
  const dataOf = (c: ExperimentConfig): string => describeData(c.scale.data);
  const seconds = configs.reduce((sum, c) => {
    const e = c.eval as { trainSeconds?: unknown; evalSeconds?: unknown };
    const add = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    return sum + add(e.trainSeconds) + add(e.evalSeconds);
  }, 0);
  const table = options.title ?? 'report';
  const results: ReproduceResults = {
    table,
    preset: presets.join('+'),
    seeds: [...new Set(rows.flatMap((r) => r.runs.map((run) => run.seed)))].sort((a, b) => a - b),
    backend: options.backend ?? 'not recorded',
    data: [...new Set(configs.map((c) => dataOf(c.config)))].join(', '),
    rows,
    seconds,
    secondsKind: 'recorded',
    createdAt: new Date().toISOString(),
  };
  mkdirSync(out, { recursive: true });
  const plots = [
    ...(await writePlots(results, join(out, 'plots'))),
    ...(options.extraPlots ?? []).map((p) => resolve(out, p)),
  ];
  const portable = portableResults(results, out);
  const jsonPath = join(out, 'results.json');
  writeFileAtomic(
    jsonPath,
    `${JSON.stringify(portable, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`,
  );
  const mdPath = join(out, 'results.md');
  writeFileAtomic(
    mdPath,
    resultsMarkdown(
      portable,
      plots.map((p) => relative(out, p)),
      {
        title: `${table}: ${rows.length} row${rows.length === 1 ? '' : 's'} at preset \`${results.preset}\``,
      },
    ),
  );
  return { results: portable, files: [jsonPath, mdPath, ...plots] };
}
