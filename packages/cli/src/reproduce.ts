/**
 * `ediy reproduce <table>`: trains Table 1's BYOL row once as the teacher, then every
 * row of the table with that teacher for each seed, evaluates each run, and writes
 * `results.json`, `results.md`, the loss curves of every term, a dot plot of every
 * metric and a Fig. 1-style saliency grid. Table 1's BYOL row at the first seed is the
 * teacher run itself, so it is trained once. A rerun skips the runs whose evaluation
 * exists and resumes an interrupted one from its checkpoints.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { readEvalRecord, readRunConfigText, runConfigText, writeJsonRecord } from '@ediy/core/node';
import { TABLES } from '@ediy/paper';
import { fromLayersModel, saliencyMapsAsync, type HostArray } from '@ediy/eval';
import { saliencyGrid } from '@ediy/eval/node';
import {
  formatDuration,
  pretrain,
  type DataConfig,
  type ExperimentConfig,
  type PresetName,
  type ProgressStream,
  type RowConfig,
  type MonitorOptions,
  type WorkersOption,
  TensorBoardLogger,
} from '@ediy/trainer';
import { DEFAULT_MONITOR, describeData } from './options.js';
import { evaluateRun, heldOutImages, loadRunBackbone } from '@ediy/eval/node';
import { EVAL_SETTINGS } from './evaluate.js';
import { portableResults, writePlots } from './report.js';
import {
  METRICS,
  isUntrainedRow,
  resultsMarkdown,
  summarizeRuns,
  type EvalMetrics,
  type ReproduceResults,
  type RowResult,
  type RunResult,
} from './results.js';
import { readStepLog } from './run-log.js';
import { didYouMean } from './suggest.js';
import type { TableSource } from './table-module.js';
import { untrainedRow } from './untrained-row.js';
import {
  planJobs,
  shardJobs,
  withTeacherLock,
  type PlanInput,
  type ReproduceJob,
  type ReproducePlan,
  type Shard,
} from './plan.js';

export { withCheckpointEvery } from './plan.js';

/** The tables `reproduce` runs. */
export const REPRODUCIBLE_TABLES = ['table1', 'table2'] as const;

/** A table `reproduce` runs. */
export type ReproducibleTable = (typeof REPRODUCIBLE_TABLES)[number];

/**
 * The run seeds of a reproduction that names none, per preset: three at `mini`, so every
 * metric's interval is taken over training runs (one run's bootstrap interval covers the
 * test images only, and runs of one configuration differ by more than it:
 * docs/results/recipe.md); one at `smoke`, which only checks that the pipeline goes
 * through, and at `paper`, whose runs are 300 or 100 ImageNet epochs each (the paper
 * reports one run a row).
 */
export const DEFAULT_SEEDS: Readonly<Record<PresetName, readonly number[]>> = {
  smoke: [0],
  mini: [0, 1, 2],
  paper: [0],
};

/** Options of {@link reproduce}. */
export interface ReproduceOptions {
  /** `table1` or `table2`, or a user's table ({@link loadTableFile}). */
  table: ReproducibleTable | TableSource;
  /** Scale (default `mini`). */
  preset?: PresetName;
  /** Run seeds (default: the preset's {@link DEFAULT_SEEDS}); the teacher uses the first. */
  seeds?: readonly number[];
  /** Training data (default: the preset's embedded scenes). Held-out data is its `test` split. */
  data?: DataConfig;
  /** Output folder (default `reproduce/<table>-<preset>`). */
  out?: string;
  /** Only these row ids of the table (default all, in the paper's order). */
  rows?: readonly string[];
  /** Cap on optimiser steps of every run (default: the preset's schedule). */
  maxSteps?: number;
  /** Config layers over the preset for every run, teacher included (the command line's overrides). */
  overrides?: PlanInput['layers'];
  /** Checkpoint every N optimiser steps (default: the preset's interval). */
  checkpointEvery?: number;
  /** Gradient threads of every run (default 1; see `PretrainOptions.workers`). */
  workers?: WorkersOption;
  /** Whether every run writes TensorBoard event files to `<run>/tb` (default true). */
  tensorboard?: boolean;
  /**
   * The kNN monitor of every run, teacher included; false for none. Default: the
   * preset's {@link DEFAULT_MONITOR} for runs on the embedded scenes (on at `mini`).
   */
  monitor?: MonitorOptions | false;
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
  /** 95% intervals (bootstrap over the scored images) of the metrics that have one. */
  intervals?: RunResult['intervals'];
  /** Training images used as kNN memory and probe training set. */
  memory?: number;
  /** Held-out images scored. */
  test?: number;
}

/**
 * Writes JSON atomically and durably, a non-finite number as null (`@ediy/core/node`'s
 * `writeJsonRecord`, the run directory's form of `eval.json`).
 */
export function writeJson(path: string, value: unknown): void {
  writeJsonRecord(path, value);
}

/**
 * Reads an evaluation record written by {@link writeJson} (`@ediy/core/node`'s
 * `readEvalRecord`): its `metrics`, written as null where they were NaN, are read back as
 * NaN, and a metric of the table it does not hold is NaN too.
 * @throws naming the file when it is not JSON or holds no metrics.
 */
export function readEvalJson<T extends { metrics: EvalMetrics }>(path: string): T {
  const raw = readEvalRecord(path) as unknown as T;
  const metrics = Object.fromEntries(
    METRICS.map(({ key }) => [
      key,
      typeof raw.metrics?.[key] === 'number' ? raw.metrics[key] : NaN,
    ]),
  ) as unknown as EvalMetrics;
  return { ...raw, metrics };
}

/** Reads a run's `eval.json` (null metrics, from NaN, read back as NaN). */
export function readRunEval(path: string): RunEvalRecord {
  return readEvalJson<RunEvalRecord>(path);
}

/**
 * Checks that a finished run directory was trained with `config`, so a rerun with other
 * settings (preset, data, steps) never reuses its results.
 * @throws naming the directory when its `config.json` differs.
 */
export function assertSameConfig(runDir: string, config: ExperimentConfig): void {
  const saved = readRunConfigText(runDir);
  if (saved !== runConfigText(config)) {
    throw new Error(
      `${runDir} holds a run of another config (${saved === undefined ? 'no config.json' : 'config.json differs'}); use another --out, or delete it to retrain`,
    );
  }
}

/** The name of a table: `table1`, `table2` or a user table's name. */
export function tableName(table: ReproducibleTable | TableSource): string {
  return typeof table === 'string' ? table : table.name;
}

/** The rows of a table to run, checked against `only`. */
export function tableRows(
  table: ReproducibleTable | TableSource,
  only?: readonly string[],
): Array<[string, RowConfig]> {
  const all = (
    typeof table === 'string' ? Object.entries(TABLES[table]) : table.rows.map(([id, r]) => [id, r])
  ) as Array<[string, RowConfig]>;
  if (!only || only.length === 0) return all;
  const ids = all.map(([id]) => id);
  for (const id of only) {
    if (!ids.includes(id))
      throw new Error(
        `${tableName(table)} has no row ${JSON.stringify(id)}${didYouMean(id, ids)}; its rows are: ${ids.join(', ')}`,
      );
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

/** At most this many runs in a user table's saliency grid (its first rows). */
export const MAX_SALIENCY_COLUMNS = 6;

/**
 * The runs a user table's saliency grid compares: the first seed of each trained row,
 * labelled as results.md labels it, the first {@link MAX_SALIENCY_COLUMNS} rows.
 */
export function saliencyColumns(rows: readonly RowResult[]): SaliencyRun[] | undefined {
  const runs = rows
    .filter((r) => !isUntrainedRow(r) && r.runs[0] !== undefined)
    .slice(0, MAX_SALIENCY_COLUMNS)
    .map((r) => ({ label: r.label, runDir: (r.runs[0] as RunResult).runDir }));
  return runs.length > 0 ? runs : undefined;
}

/** The TensorBoard tag of the saliency grid in a reproduction's own event file. */
export const SALIENCY_TAG = 'saliency/grid';

/**
 * Writes a PNG as a TensorBoard image (`Summary.Image`) of `step` into the
 * reproduction's own event folder `<out>/tb`, beside the runs' (`tensorboard --logdir
 * <out>` shows it as the run `tb`). Returns the event file's path.
 */
export function logTableImage(out: string, step: number, tag: string, png: Uint8Array): string {
  const tb = new TensorBoardLogger(join(out, 'tb'));
  try {
    tb.image(step, tag, png);
  } finally {
    tb.close();
  }
  return tb.path;
}

/** Options of {@link collect}: the plan's options, and what the report says of the work. */
export interface CollectOptions extends ReproduceOptions {
  /**
   * Seconds the report gives (default: the training and evaluation seconds the runs
   * recorded, summed, which is the compute time whichever machines did it).
   */
  seconds?: number;
}

/** The absolute output folder of a reproduction. */
export function reproduceOut(options: ReproduceOptions): string {
  return resolve(
    options.out ?? join('reproduce', `${tableName(options.table)}-${options.preset ?? 'mini'}`),
  );
}

/** The job list of a reproduction (see {@link planJobs}); nothing is written. */
export function planReproduce(options: ReproduceOptions): ReproducePlan {
  return planJobs({
    table: tableName(options.table),
    rows: tableRows(options.table, options.rows),
    preset: options.preset ?? 'mini',
    seeds: options.seeds ?? DEFAULT_SEEDS[options.preset ?? 'mini'],
    out: reproduceOut(options),
    ...(options.data ? { data: options.data } : {}),
    ...(options.maxSteps !== undefined ? { maxSteps: options.maxSteps } : {}),
    ...(options.checkpointEvery !== undefined ? { checkpointEvery: options.checkpointEvery } : {}),
    ...(options.overrides ? { layers: options.overrides } : {}),
    ...(typeof options.table !== 'string' && options.table.overPreset
      ? { overPreset: options.table.overPreset }
      : {}),
  });
}

/** Writes `plan.json` into the plan's output folder; returns its path. */
export function writePlan(plan: ReproducePlan): string {
  mkdirSync(plan.out, { recursive: true });
  const path = join(plan.out, 'plan.json');
  writeJson(path, plan);
  return path;
}

/** The kNN monitor option of a run of `plan` (see {@link ReproduceOptions.monitor}). */
export function monitorOf(
  options: Pick<ReproduceOptions, 'monitor'>,
  plan: Pick<ReproducePlan, 'preset'>,
  config: ExperimentConfig,
): { monitor?: MonitorOptions } {
  if (options.monitor === false) return {};
  if (options.monitor !== undefined) return { monitor: options.monitor };
  const fallback = config.scale.data.kind === 'scenes' ? DEFAULT_MONITOR[plan.preset] : undefined;
  return fallback ? { monitor: fallback } : {};
}

function sayer(options: ReproduceOptions): {
  progress: ProgressStream | null;
  say: (text: string) => void;
} {
  const progress = options.progress === undefined ? process.stderr : options.progress;
  return { progress, say: (text) => progress?.write(`${text}\n`) };
}

/** What `teacher/done.json` holds. */
interface TeacherDone {
  steps: number;
  checkpoint: string;
  trainSeconds?: number;
}

/**
 * Trains the plan's teacher unless it is done (its `done.json` exists and its config is
 * the plan's). With `lock`, several processes may call this at once: one trains it, the
 * others wait for it (see {@link withTeacherLock}). Returns the seconds spent training
 * here (0 when it was done or another process trained it).
 */
export async function trainTeacher(
  plan: ReproducePlan,
  options: ReproduceOptions & { lock?: boolean },
): Promise<number> {
  const job = plan.teacher;
  if (!job) return 0;
  const { progress, say } = sayer(options);
  const done = join(job.runDir, 'done.json');
  if (existsSync(done)) {
    assertSameConfig(job.runDir, job.config);
    say(`ediy: teacher done (${job.runDir})`);
    return 0;
  }
  let seconds = 0;
  const train = async (): Promise<void> => {
    const t0 = performance.now();
    const result = await pretrain(job.config, {
      runDir: job.runDir,
      progress,
      label: `[teacher] table1/${job.row} seed ${job.seed}`,
      workers: options.workers ?? 1,
      tensorboard: options.tensorboard ?? true,
      ...monitorOf(options, plan, job.config),
    });
    if (!result.finished)
      throw new Error(
        `teacher run ${job.runDir} stopped at step ${result.steps}/${result.totalSteps}`,
      );
    seconds = (performance.now() - t0) / 1000;
    const record: TeacherDone = {
      steps: result.steps,
      checkpoint: result.checkpoint,
      trainSeconds: seconds,
    };
    writeJson(done, record);
  };
  if (!options.lock) {
    await train();
    return seconds;
  }
  mkdirSync(plan.out, { recursive: true });
  await withTeacherLock(join(plan.out, 'teacher.lock'), done, train, {
    onWait: (holder) => say(`ediy: waiting for the teacher, trained by ${holder}`),
  });
  if (seconds === 0) assertSameConfig(job.runDir, job.config);
  return seconds;
}

/**
 * Adds a run's evaluation to its TensorBoard files (a new event file in `<run>/tb`), as
 * `eval/<metric>` at `step`, the step evaluated (finite metrics only). Returns the file.
 */
export function logEvaluation(runDir: string, step: number, metrics: EvalMetrics): string {
  const scalars = Object.fromEntries(
    Object.entries(metrics)
      .filter(([, v]) => Number.isFinite(v))
      .map(([k, v]) => [`eval/${k}`, v as number]),
  );
  const tb = new TensorBoardLogger(join(runDir, 'tb'));
  try {
    tb.scalars(step, scalars);
  } finally {
    tb.close();
  }
  return tb.path;
}

/**
 * Trains and evaluates `jobs` of `plan` in order, skipping those whose `eval.json`
 * exists (after checking their config) and resuming interrupted ones. The teacher must
 * be done. `teacherSeconds` (the teacher's training in this call) counts towards the
 * job that reuses the teacher's folder, for the ETA.
 */
export async function runJobs(
  plan: ReproducePlan,
  jobs: readonly ReproduceJob[],
  options: ReproduceOptions,
  teacherSeconds = 0,
): Promise<void> {
  const { progress, say } = sayer(options);
  const settings = EVAL_SETTINGS[plan.preset];
  const total = plan.jobs.length;
  const worked = { runs: 0, seconds: 0 };
  for (const [n, job] of jobs.entries()) {
    const index = plan.jobs.indexOf(job) + 1 || n + 1;
    const evalPath = join(job.runDir, 'eval.json');
    const label = `[${index}/${total}] ${plan.table}/${job.row} seed ${job.seed}`;
    const runStarted = performance.now();
    if (existsSync(evalPath)) {
      assertSameConfig(job.runDir, job.config);
      say(`ediy: ${label}: done, skipping (${relative(process.cwd(), evalPath)})`);
      continue;
    }
    const t0 = performance.now();
    if (job.teacherRun) say(`ediy: ${label}: the teacher run, evaluating it`);
    const result = await pretrain(job.config, {
      runDir: job.runDir,
      progress,
      label,
      workers: options.workers ?? 1,
      tensorboard: options.tensorboard ?? true,
      ...monitorOf(options, plan, job.config),
    });
    const trainSeconds = (performance.now() - t0) / 1000;
    if (!result.finished)
      throw new Error(`${job.runDir} stopped at step ${result.steps}/${result.totalSteps}`);
    const t1 = performance.now();
    const evaluation = await evaluateRun(job.runDir, {
      settings,
      ...(plan.data ? { data: plan.data } : {}),
    });
    if (options.tensorboard ?? true) logEvaluation(job.runDir, result.steps, evaluation.metrics);
    const log = readStepLog(join(job.runDir, 'log.jsonl'));
    const record: RunEvalRecord = {
      metrics: evaluation.metrics,
      steps: result.steps,
      finalLoss: log[log.length - 1]?.loss ?? NaN,
      checkpoint: evaluation.checkpoint,
      trainSeconds,
      evalSeconds: (performance.now() - t1) / 1000,
      intervals: evaluation.intervals,
      memory: evaluation.memory,
      test: evaluation.test,
    };
    writeJson(evalPath, record);
    say(
      `ediy: ${label}: ${METRICS.map((m) => `${m.label} ${Number.isFinite(record.metrics[m.key]) ? record.metrics[m.key].toFixed(3) : 'n/a'}`).join(', ')}`,
    );
    worked.runs += 1;
    worked.seconds +=
      (performance.now() - runStarted) / 1000 + (job.teacherRun ? teacherSeconds : 0);
    const left = jobs.length - n - 1;
    const eta = formatDuration((worked.seconds / worked.runs) * left);
    if (left > 0) say(`ediy: ${index}/${total} runs done; about ${eta} left for ${left} more`);
  }
}

/**
 * Reproduces a table at a preset on this machine: the teacher, every row job, then
 * {@link collect}. The backend must be initialised (the `ediy` command does it from
 * `--backend`). Returns the results and the files written.
 */
export async function reproduce(options: ReproduceOptions): Promise<ReproduceOutput> {
  const started = performance.now();
  const plan = planReproduce(options);
  writePlan(plan);
  const teacherSeconds = await trainTeacher(plan, options);
  await runJobs(plan, plan.jobs, options, teacherSeconds);
  return collect({ ...options, seconds: (performance.now() - started) / 1000 });
}

/**
 * Runs slice `shard` of the row jobs (see {@link shardJobs}), for any scheduler that
 * starts `n` processes at once on a shared output folder. The teacher is trained by the
 * first shard to need it while the others wait (see {@link withTeacherLock}). Returns
 * the run folders of the slice.
 */
export async function reproduceShard(
  options: ReproduceOptions & { shard: Shard },
): Promise<string[]> {
  const plan = planReproduce(options);
  const { say } = sayer(options);
  const jobs = shardJobs(plan.jobs, options.shard);
  say(
    `ediy: shard ${options.shard.index}/${options.shard.count}: ${jobs.length} of ${plan.jobs.length} runs (${jobs.map((j) => j.id).join(', ') || 'none'})`,
  );
  writePlan(plan);
  const teacherSeconds = plan.teacher ? await trainTeacher(plan, { ...options, lock: true }) : 0;
  await runJobs(plan, jobs, options, teacherSeconds);
  return jobs.map((j) => j.runDir);
}

/**
 * Builds `results.json`, `results.md` and the plots from the finished runs in the
 * output folder, without training: every job of the plan must have its `eval.json`
 * (a run made with other settings is refused, as {@link assertSameConfig} does).
 * @throws listing the runs that are not finished.
 */
export async function collect(options: CollectOptions): Promise<ReproduceOutput> {
  const plan = planReproduce(options);
  const { say } = sayer(options);
  const { out, preset, seeds } = plan;
  const missing = plan.jobs.filter((j) => !existsSync(join(j.runDir, 'eval.json')));
  if (missing.length > 0) {
    throw new Error(
      `${out}: ${missing.length} of ${plan.jobs.length} runs are not finished (no eval.json): ${missing.map((j) => j.id).join(', ')}`,
    );
  }
  let recordedSeconds = 0;
  if (plan.teacher) {
    const done = join(plan.teacher.runDir, 'done.json');
    const record = existsSync(done) ? (JSON.parse(readFileSync(done, 'utf8')) as TeacherDone) : {};
    recordedSeconds += (record as Partial<TeacherDone>).trainSeconds ?? 0;
  }
  const results: RowResult[] = [];
  for (const [id, row] of tableRows(options.table, options.rows)) {
    const runs: RunResult[] = [];
    for (const job of plan.jobs.filter((j) => j.row === id)) {
      assertSameConfig(job.runDir, job.config);
      const record = readRunEval(join(job.runDir, 'eval.json'));
      recordedSeconds += record.trainSeconds + record.evalSeconds;
      runs.push({
        seed: job.seed,
        runDir: job.runDir,
        steps: record.steps,
        finalLoss: record.finalLoss,
        metrics: record.metrics,
        ...(record.intervals ? { intervals: record.intervals } : {}),
      });
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
  // The untrained floor of the same architecture, evaluated the same way (cached in the output folder).
  results.push(await untrainedRow(plan));

  const files: string[] = [];
  const plotDir = join(out, 'plots');
  const plots = await writePlots({ table: plan.table, preset, seeds, rows: results }, plotDir);
  const pair =
    typeof options.table === 'string'
      ? saliencyPair(results, plan.teacher?.runDir)
      : saliencyColumns(results);
  if (pair) {
    const path = join(plotDir, 'saliency-grid.png');
    await drawSaliencyGrid(pair, path, options.data, 6);
    plots.push(path);
    if (options.tensorboard ?? true) {
      const step = Math.max(0, ...results.flatMap((r) => r.runs.map((run) => run.steps)));
      files.push(logTableImage(out, step, SALIENCY_TAG, new Uint8Array(readFileSync(path))));
    }
  }

  const summary: ReproduceResults = {
    table: plan.table,
    preset,
    seeds,
    backend: options.backend ?? tf.getBackend(),
    data: describeData(options.data),
    ...(plan.teacher ? { teacher: plan.teacher.runDir } : {}),
    rows: results,
    seconds: options.seconds ?? recordedSeconds,
    secondsKind: options.seconds !== undefined ? 'wall' : 'recorded',
    createdAt: new Date().toISOString(),
  };
  const jsonPath = join(out, 'results.json');
  writeJson(jsonPath, portableResults(summary, out));
  const mdPath = join(out, 'results.md');
  writeFileSync(
    mdPath,
    resultsMarkdown(
      portableResults(summary, out),
      plots.map((p) => relative(out, p)),
    ),
  );
  files.push(jsonPath, mdPath, ...plots);
  say(`ediy: wrote ${relative(process.cwd(), mdPath)} (${summary.seconds.toFixed(0)} s)`);
  return { results: summary, out, files };
}

/** A labelled run for {@link drawSaliencyGrid}. */
export interface SaliencyRun {
  /** Column header of the run's heat maps. */
  label: string;
  /** Run directory. */
  runDir: string;
}

/**
 * Draws a saliency grid (one row per held-out image: the image, then one column of
 * Grad-CAM maps per run's online backbone, and a colour bar) and writes it as a PNG.
 * Held-out images come from `data` (default the first run's data config, `test` split).
 */
export async function drawSaliencyGrid(
  runs: readonly SaliencyRun[],
  path: string,
  data: DataConfig | undefined,
  count: number,
): Promise<{ width: number; height: number }> {
  if (runs.length === 0) throw new Error('a saliency grid needs at least one run');
  const columns: Array<{ label: string; heatmaps: HostArray }> = [];
  let heldOut: Awaited<ReturnType<typeof heldOutImages>> | undefined;
  for (const run of runs) {
    const { model, config } = loadRunBackbone(run.runDir);
    try {
      heldOut ??= await heldOutImages(data ?? config.scale.data, count);
      const heatmaps = await saliencyMapsAsync(fromLayersModel(model), heldOut.images, {
        method: 'gradcam',
      });
      columns.push({ label: run.label, heatmaps });
    } finally {
      model.dispose();
    }
  }
  if (!heldOut) throw new Error('a saliency grid needs held-out images');
  return saliencyGrid(heldOut.raw, columns, path, {
    title: 'Grad-CAM saliency on held-out images',
    colourBarLabel: 'saliency (Grad-CAM, per image)',
  });
}
