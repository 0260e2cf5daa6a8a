/**
 * `ediy reproduce <table>`: trains Table 1's BYOL row once as the teacher, then every
 * row of the table with that teacher for each seed, evaluates each run, and writes
 * `results.json`, `results.md`, loss curves, a bar chart per metric and a Fig. 1-style
 * saliency grid. Table 1's BYOL row at the first seed is the teacher run itself, so it
 * is trained once. A rerun skips the runs whose evaluation exists and resumes an
 * interrupted one from its checkpoints.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { TABLE1, TABLES } from '@ediy/examples';
import { fromLayersModel, saliencyGrid, saliencyMaps, type HostArray } from '@ediy/eval';
import {
  formatDuration,
  pretrain,
  resolveExperiment,
  type DataConfig,
  type ExperimentConfig,
  type PresetName,
  type ProgressStream,
  type RowConfig,
  type WorkersOption,
} from '@ediy/trainer';
import { EVAL_SETTINGS, evaluateRun, heldOutData, loadRunBackbone } from './evaluate.js';
import { barChart, lineChart } from './plot/charts.js';
import {
  METRICS,
  resultsMarkdown,
  summarizeRuns,
  type EvalMetrics,
  type ReproduceResults,
  type RowResult,
  type RunResult,
} from './results.js';
import { meanLossCurve, readStepLog } from './run-log.js';
import { needsTeacher } from './teacher.js';

/** The tables `reproduce` runs. */
export const REPRODUCIBLE_TABLES = ['table1', 'table2'] as const;

/** A table `reproduce` runs. */
export type ReproducibleTable = (typeof REPRODUCIBLE_TABLES)[number];

/** Options of {@link reproduce}. */
export interface ReproduceOptions {
  /** `table1` or `table2`. */
  table: ReproducibleTable;
  /** Scale (default `mini`). */
  preset?: PresetName;
  /** Run seeds (default [0]); the teacher uses the first. */
  seeds?: readonly number[];
  /** Training data (default: the preset's embedded scenes). Held-out data is its `test` split. */
  data?: DataConfig;
  /** Output folder (default `reproduce/<table>-<preset>`). */
  out?: string;
  /** Only these row ids of the table (default all, in the paper's order). */
  rows?: readonly string[];
  /** Cap on optimiser steps of every run (default: the preset's schedule). */
  maxSteps?: number;
  /** Checkpoint every N optimiser steps (default: the preset's interval). */
  checkpointEvery?: number;
  /** Gradient threads of every run (default 1; see `PretrainOptions.workers`). */
  workers?: WorkersOption;
  /** Description of the backend in use, for the report (default the tfjs backend name). */
  backend?: string;
  /** Where progress and messages go (default process.stderr); null for silence. */
  progress?: ProgressStream | null;
}

/** What {@link reproduce} produced. */
export interface ReproduceOutput {
  /** The results (as written to results.json). */
  results: ReproduceResults;
  /** The output folder. */
  out: string;
  /** Every file written, absolute paths. */
  files: string[];
}

/** What `eval.json` in a run directory holds. */
export interface RunEvalRecord {
  /** The metrics. */
  metrics: EvalMetrics;
  /** Steps trained. */
  steps: number;
  /** Loss of the last step. */
  finalLoss: number;
  /** The checkpoint evaluated. */
  checkpoint: string;
  /** Seconds of pre-training in the call that finished the run. */
  trainSeconds: number;
  /** Seconds of evaluation. */
  evalSeconds: number;
}

/** Writes JSON atomically (a temporary file renamed into place). */
export function writeJson(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(
    tmp,
    `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`,
  );
  renameSync(tmp, path);
}

/** Reads a run's `eval.json` (null metrics, from NaN, read back as NaN). */
export function readRunEval(path: string): RunEvalRecord {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as RunEvalRecord;
  const metrics = Object.fromEntries(
    METRICS.map(({ key }) => [
      key,
      typeof raw.metrics?.[key] === 'number' ? raw.metrics[key] : NaN,
    ]),
  ) as unknown as EvalMetrics;
  return { ...raw, metrics };
}

/**
 * Checks that a finished run directory was trained with `config`, so a rerun with other
 * settings (preset, data, steps) never reuses its results.
 * @throws naming the directory when its `config.json` differs.
 */
export function assertSameConfig(runDir: string, config: ExperimentConfig): void {
  const path = join(runDir, 'config.json');
  const saved = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (saved !== `${JSON.stringify(config, null, 2)}\n`) {
    throw new Error(
      `${runDir} holds a run of another config (${saved === undefined ? 'no config.json' : 'config.json differs'}); use another --out, or delete it to retrain`,
    );
  }
}

/** `config` with its checkpoint interval set to `every` (unchanged when undefined). */
export function withCheckpointEvery(
  config: ExperimentConfig,
  every: number | undefined,
): ExperimentConfig {
  return every === undefined ? config : { ...config, checkpoint: { ...config.checkpoint, every } };
}

/** The rows of a table to run, checked against `only`. */
export function tableRows(
  table: ReproducibleTable,
  only?: readonly string[],
): Array<[string, RowConfig]> {
  const all = Object.entries(TABLES[table]) as Array<[string, RowConfig]>;
  if (!only || only.length === 0) return all;
  const ids = all.map(([id]) => id);
  for (const id of only) {
    if (!ids.includes(id))
      throw new Error(`${table} has no row ${JSON.stringify(id)}; its rows are: ${ids.join(', ')}`);
  }
  return all.filter(([id]) => only.includes(id));
}

/**
 * The two runs the saliency grid compares, as Fig. 1 does: BYOL (the table's BYOL row,
 * else the teacher, which is Table 1's BYOL row) and E-DIY (the `ediy` or `equal` row).
 */
export function saliencyPair(
  rows: readonly RowResult[],
  teacherDir: string | undefined,
): SaliencyRun[] | undefined {
  const byolRun = rows.find((r) => r.id === 'byol')?.runs[0]?.runDir ?? teacherDir;
  const ediyRun = rows.find((r) => r.id === 'ediy' || r.id === 'equal')?.runs[0]?.runDir;
  if (!byolRun || !ediyRun) return undefined;
  return [
    { label: 'BYOL', runDir: byolRun },
    { label: 'E-DIY', runDir: ediyRun },
  ];
}

/**
 * Reproduces a table at a preset. The backend must be initialised (the `ediy` command
 * does it from `--backend`). Returns the results and the files written.
 */
export async function reproduce(options: ReproduceOptions): Promise<ReproduceOutput> {
  const started = performance.now();
  const preset = options.preset ?? 'mini';
  const seeds = [...(options.seeds ?? [0])];
  if (seeds.length === 0) throw new Error('reproduce needs at least one seed');
  const out = resolve(options.out ?? join('reproduce', `${options.table}-${preset}`));
  const progress = options.progress === undefined ? process.stderr : options.progress;
  const say = (text: string): void => {
    progress?.write(`${text}\n`);
  };
  const rows = tableRows(options.table, options.rows);
  mkdirSync(out, { recursive: true });
  const files: string[] = [];
  const common = {
    preset,
    ...(options.data ? { data: options.data } : {}),
    ...(options.maxSteps ? { scale: { maxSteps: options.maxSteps } } : {}),
  };
  const settings = EVAL_SETTINGS[preset];

  // The teacher: Table 1's BYOL row at this preset, trained once.
  const teacherDir = join(out, 'teacher');
  const teacherNeeded = rows.some(([, row]) => needsTeacher(row));
  const resolveRow = (
    row: RowConfig,
    seed: number,
    teacher?: ExperimentConfig['teacher'],
  ): ExperimentConfig =>
    withCheckpointEvery(
      resolveExperiment(row, { ...common, seed, ...(teacher ? { teacher } : {}) }),
      options.checkpointEvery,
    );
  const teacherConfig = resolveRow(TABLE1.byol, seeds[0] as number);
  // Training time of the teacher in this call: the BYOL row reuses it, and the ETA counts it there.
  let teacherSeconds = 0;
  if (teacherNeeded) {
    const done = join(teacherDir, 'done.json');
    if (existsSync(done)) {
      assertSameConfig(teacherDir, teacherConfig);
      say(`ediy: teacher done (${teacherDir})`);
    } else {
      const teacherStarted = performance.now();
      const result = await pretrain(teacherConfig, {
        runDir: teacherDir,
        progress,
        label: 'teacher (table1/byol)',
        workers: options.workers ?? 1,
      });
      if (!result.finished)
        throw new Error(
          `teacher run ${teacherDir} stopped at step ${result.steps}/${result.totalSteps}`,
        );
      writeJson(done, { steps: result.steps, checkpoint: result.checkpoint });
      teacherSeconds = (performance.now() - teacherStarted) / 1000;
    }
  }

  const results: RowResult[] = [];
  const total = rows.length * seeds.length;
  const worked = { runs: 0, seconds: 0 };
  let index = 0;
  for (const [id, row] of rows) {
    const runs: RunResult[] = [];
    for (const seed of seeds) {
      index += 1;
      const config = resolveRow(row, seed, needsTeacher(row) ? { run: teacherDir } : undefined);
      // The BYOL row at the teacher's seed is the teacher run itself: train it once.
      const isTeacher = teacherNeeded && JSON.stringify(config) === JSON.stringify(teacherConfig);
      const runDir = isTeacher ? teacherDir : join(out, 'runs', id, `seed-${seed}`);
      const evalPath = join(runDir, 'eval.json');
      const label = `[${index}/${total}] ${options.table}/${id} seed ${seed}`;
      let record: RunEvalRecord;
      const runStarted = performance.now();
      const skipped = existsSync(evalPath);
      if (skipped) {
        assertSameConfig(runDir, config);
        say(`ediy: ${label}: done, skipping (${relative(process.cwd(), evalPath)})`);
        record = readRunEval(evalPath);
      } else {
        const t0 = performance.now();
        if (isTeacher) say(`ediy: ${label}: the teacher run, evaluating it`);
        const result = await pretrain(config, {
          runDir,
          progress,
          label,
          workers: options.workers ?? 1,
        });
        const trainSeconds = (performance.now() - t0) / 1000;
        if (!result.finished)
          throw new Error(`${runDir} stopped at step ${result.steps}/${result.totalSteps}`);
        const t1 = performance.now();
        const evaluation = await evaluateRun(runDir, {
          settings,
          ...(options.data ? { data: options.data } : {}),
        });
        const log = readStepLog(join(runDir, 'log.jsonl'));
        record = {
          metrics: evaluation.metrics,
          steps: result.steps,
          finalLoss: log[log.length - 1]?.loss ?? NaN,
          checkpoint: evaluation.checkpoint,
          trainSeconds,
          evalSeconds: (performance.now() - t1) / 1000,
        };
        writeJson(evalPath, record);
        say(
          `ediy: ${label}: ${METRICS.map((m) => `${m.label} ${Number.isFinite(record.metrics[m.key]) ? record.metrics[m.key].toFixed(3) : 'n/a'}`).join(', ')}`,
        );
      }
      runs.push({
        seed,
        runDir,
        steps: record.steps,
        finalLoss: record.finalLoss,
        metrics: record.metrics,
      });
      if (!skipped) {
        worked.runs += 1;
        worked.seconds +=
          (performance.now() - runStarted) / 1000 + (isTeacher ? teacherSeconds : 0);
        const left = total - index;
        const eta = formatDuration((worked.seconds / worked.runs) * left);
        if (left > 0) say(`ediy: ${index}/${total} runs done; about ${eta} left for ${left} more`);
      }
    }
    results.push({
      id,
      name: row.name,
      label: row.paper?.label ?? row.name,
      ...(row.paper ? { paper: row.paper } : {}),
      runs,
      summary: summarizeRuns(runs),
    });
  }

  const plotDir = join(out, 'plots');
  const plots: string[] = [];
  const savePlot = (name: string, draw: () => { save(path: string): void }): void => {
    const path = join(plotDir, name);
    draw().save(path);
    plots.push(path);
  };
  savePlot('loss-curves.png', () =>
    lineChart({
      title: `${options.table.toUpperCase()} TRAINING LOSS (${preset.toUpperCase()}, MEAN OVER ${seeds.length} SEED${seeds.length > 1 ? 'S' : ''})`,
      xLabel: 'step',
      yLabel: 'loss (eq. 3)',
      series: results.map((r) => ({
        label: r.id,
        ...meanLossCurve(r.runs.map((run) => readStepLog(join(run.runDir, 'log.jsonl')))),
      })),
    }),
  );
  for (const metric of METRICS) {
    savePlot(`${metric.key}.png`, () =>
      barChart({
        title: `${metric.label.toUpperCase()} (${metric.higherIsBetter ? 'HIGHER' : 'LOWER'} IS BETTER), ${preset.toUpperCase()}`,
        bars: results.map((r) => ({
          label: r.id,
          value: r.summary[metric.key].mean,
          spread: r.summary[metric.key].std,
        })),
      }),
    );
  }
  const pair = saliencyPair(results, teacherNeeded ? teacherDir : undefined);
  if (pair) {
    const path = join(plotDir, 'saliency-grid.png');
    await drawSaliencyGrid(pair, path, options.data, 6);
    plots.push(path);
  }

  const summary: ReproduceResults = {
    table: options.table,
    preset,
    seeds,
    backend: options.backend ?? tf.getBackend(),
    data: options.data?.kind === 'path' ? options.data.path : 'scenes',
    ...(teacherNeeded ? { teacher: teacherDir } : {}),
    rows: results,
    seconds: (performance.now() - started) / 1000,
    createdAt: new Date().toISOString(),
  };
  const jsonPath = join(out, 'results.json');
  writeJson(jsonPath, summary);
  const mdPath = join(out, 'results.md');
  writeFileSync(
    mdPath,
    resultsMarkdown(
      summary,
      plots.map((p) => relative(out, p)),
    ),
  );
  files.push(jsonPath, mdPath, ...plots);
  say(`ediy: wrote ${relative(process.cwd(), mdPath)} (${summary.seconds.toFixed(0)} s)`);
  return { results: summary, out, files };
}

/** A labelled run for {@link drawSaliencyGrid}. */
export interface SaliencyRun {
  /** Row label drawn left of the row. */
  label: string;
  /** Run directory. */
  runDir: string;
}

/**
 * Draws a saliency grid (one row per run, one column per held-out image) of Grad-CAM
 * maps of each run's online backbone, and writes it as a PNG. Held-out images come
 * from `data` (default the first run's data config, `test` split).
 */
export async function drawSaliencyGrid(
  runs: readonly SaliencyRun[],
  path: string,
  data: DataConfig | undefined,
  count: number,
): Promise<{ width: number; height: number }> {
  if (runs.length === 0) throw new Error('a saliency grid needs at least one run');
  const gridRows: Array<{ label: string; images: HostArray; heatmaps: HostArray }> = [];
  let heldOut: Awaited<ReturnType<typeof heldOutData>> | undefined;
  for (const run of runs) {
    const { model, config } = loadRunBackbone(run.runDir);
    try {
      heldOut ??= await heldOutData(data ?? config.scale.data, count);
      const heatmaps = saliencyMaps(fromLayersModel(model), heldOut.images, { method: 'gradcam' });
      gridRows.push({ label: run.label, images: heldOut.raw, heatmaps });
    } finally {
      model.dispose();
    }
  }
  return saliencyGrid(gridRows, path);
}
