/**
 * The run directory: the one place that knows how a run folder of ediy is laid out and
 * how each of its files is read and written. Pre-training writes it, evaluation, the
 * viewer and the command line read it.
 *
 * ```text
 * <run>/config.json                      the experiment config (JSON, 2-space indent)
 * <run>/log.jsonl                        one JSON step record a line ({"step": 1, ...})
 * <run>/eval.json                        the evaluation (JSON, a non-finite number as null)
 * <run>/eval-untrained.json              the untrained floor's evaluation, same form
 * <run>/checkpoints/step-NNNNNNNN/       one checkpoint a step (8 digits)
 *   state.json                           step, data position, random stream, config, names
 *   tensors.safetensors                  every tensor of the checkpoint
 * <run>/tb/                              TensorBoard event files
 * ```
 *
 * A checkpoint folder counts once its `state.json` is there (it is written last); every
 * file is written with {@link writeFileAtomic} except the log, which is appended to. A
 * file that is missing, not JSON or not of the expected form is a {@link RunDirError}
 * naming the file and what was expected.
 */
import { appendFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';

/** The names of a run directory's files and folders. */
export const RUN_DIR_LAYOUT = Object.freeze({
  /** The experiment config. */
  config: 'config.json',
  /** The step log. */
  log: 'log.jsonl',
  /** The evaluation of the newest checkpoint. */
  eval: 'eval.json',
  /** The evaluation of the run's untrained initialisation. */
  evalUntrained: 'eval-untrained.json',
  /** The checkpoints' folder. */
  checkpoints: 'checkpoints',
  /** A checkpoint's JSON half. */
  checkpointState: 'state.json',
  /** A checkpoint's tensors. */
  checkpointTensors: 'tensors.safetensors',
  /** TensorBoard's event files. */
  tensorboard: 'tb',
});

/** Format version of a checkpoint's `state.json`. */
export const CHECKPOINT_FORMAT = 1;

/** A run directory's file that is missing, unreadable or not of the expected form. */
export class RunDirError extends Error {
  override name = 'RunDirError';

  /**
   * @param path - the file or folder.
   * @param message - what is wrong and what was expected; the message is `${path}: ${message}`.
   * @param options - the error's cause.
   */
  constructor(
    readonly path: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: ${message}`, options);
  }
}

/** The paths of a run directory's files (see {@link RUN_DIR_LAYOUT}). */
export interface RunPaths {
  /** The run directory itself. */
  dir: string;
  /** `config.json`. */
  config: string;
  /** `log.jsonl`. */
  log: string;
  /** `eval.json`. */
  eval: string;
  /** `eval-untrained.json`. */
  evalUntrained: string;
  /** The `checkpoints` folder. */
  checkpoints: string;
  /** The `tb` folder. */
  tensorboard: string;
}

function nonEmpty(path: unknown, what: string): string {
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError(`${what} must be a non-empty string, got ${JSON.stringify(path)}`);
  return path;
}

/**
 * The paths of the files of the run directory `runDir` (as given: relative stays relative).
 * @param runDir - the run directory.
 */
export function runPaths(runDir: string): RunPaths {
  const dir = nonEmpty(runDir, 'runDir');
  return {
    dir,
    config: join(dir, RUN_DIR_LAYOUT.config),
    log: join(dir, RUN_DIR_LAYOUT.log),
    eval: join(dir, RUN_DIR_LAYOUT.eval),
    evalUntrained: join(dir, RUN_DIR_LAYOUT.evalUntrained),
    checkpoints: join(dir, RUN_DIR_LAYOUT.checkpoints),
    tensorboard: join(dir, RUN_DIR_LAYOUT.tensorboard),
  };
}

/** A file system error's reason as `CODE: message`, else its message. */
function reasonOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') return `${e.code}: ${e.message.replace(/^\w+: /, '')}`;
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------- checkpoints

const STEP_DIR = /^step-(\d{8})$/;

/**
 * The folder name of a step's checkpoint: `step-00000012`.
 * @param step - the optimiser steps completed, an integer in [0, 1e8).
 */
export function checkpointName(step: number): string {
  if (!(Number.isInteger(step) && step >= 0 && step < 1e8))
    throw new RangeError(`checkpoint step must be an integer in [0, 1e8), got ${String(step)}`);
  return `step-${String(step).padStart(8, '0')}`;
}

/** The files of one checkpoint folder. */
export interface CheckpointPaths {
  /** The folder. */
  dir: string;
  /** Its `state.json`. */
  state: string;
  /** Its `tensors.safetensors`. */
  tensors: string;
}

/**
 * The files of the checkpoint folder `checkpointDir`.
 * @param checkpointDir - a `checkpoints/step-NNNNNNNN` folder.
 */
export function checkpointPaths(checkpointDir: string): CheckpointPaths {
  const dir = nonEmpty(checkpointDir, 'checkpointDir');
  return {
    dir,
    state: join(dir, RUN_DIR_LAYOUT.checkpointState),
    tensors: join(dir, RUN_DIR_LAYOUT.checkpointTensors),
  };
}

/**
 * The steps of the complete checkpoints (a `step-NNNNNNNN` folder holding its
 * `state.json`) in the checkpoints folder `checkpointsDir`, ascending; [] when the folder
 * is absent. Temporary and damaged folders (`.tmp-*`, `damaged-*`) are not checkpoints.
 * @param checkpointsDir - a run's `checkpoints` folder ({@link RunPaths.checkpoints}).
 */
export function listCheckpoints(checkpointsDir: string): number[] {
  const dir = nonEmpty(checkpointsDir, 'checkpointsDir');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => STEP_DIR.exec(name))
    .filter(
      (m): m is RegExpExecArray =>
        m !== null && existsSync(join(dir, m[0], RUN_DIR_LAYOUT.checkpointState)),
    )
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/**
 * The newest complete checkpoint folder in the checkpoints folder `checkpointsDir`, or
 * undefined when there is none.
 * @param checkpointsDir - a run's `checkpoints` folder.
 */
export function latestCheckpoint(checkpointsDir: string): string | undefined {
  const steps = listCheckpoints(checkpointsDir);
  const last = steps[steps.length - 1];
  return last === undefined ? undefined : join(checkpointsDir, checkpointName(last));
}

/**
 * The newest complete checkpoint folder of the run directory `runDir`, or undefined.
 * @param runDir - the run directory.
 */
export function newestCheckpoint(runDir: string): string | undefined {
  return latestCheckpoint(runPaths(runDir).checkpoints);
}

/**
 * Whether `runDir` holds a run: a non-empty `checkpoints` folder or a `log.jsonl`.
 * @param runDir - the folder.
 */
export function holdsRun(runDir: string): boolean {
  const paths = runPaths(runDir);
  if (existsSync(paths.log)) return true;
  return existsSync(paths.checkpoints) && readdirSync(paths.checkpoints).length > 0;
}

/**
 * Whether `dir` is laid out as a run directory of `ediy pretrain` (it has a `checkpoints`
 * folder, possibly still empty).
 * @param dir - the folder.
 */
export function isRunDir(dir: string): boolean {
  return existsSync(runPaths(dir).checkpoints);
}

/** What every checkpoint's `state.json` holds (the trainer's `CheckpointState` adds the types of its fields). */
export interface StoredCheckpointState {
  /** {@link CHECKPOINT_FORMAT}. */
  format: number;
  /** Optimiser steps completed. */
  step: number;
  /** The run's config. */
  config: unknown;
  /** For each model key, the names of its weights in the order of the tensors `<key>/<i>`. */
  weights: Record<string, string[]>;
  /** Names of the optimiser's state tensors `optimizer/<name>`. */
  optimizer: string[];
}

/**
 * Reads a JSON file, naming it in every error.
 * @param path - the file.
 * @param what - what the file holds, for the errors (`the evaluation`).
 * @throws RunDirError `<path>: not found (expected <what>)`, `cannot read <what> (<reason>)` or
 *   `<what> is not valid JSON (<reason>)`.
 */
export function readJsonFile(path: string, what: string): unknown {
  nonEmpty(path, 'path');
  if (!existsSync(path)) throw new RunDirError(path, `not found (expected ${what})`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RunDirError(path, `cannot read ${what} (${reasonOf(err)})`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RunDirError(path, `${what} is not valid JSON (${(err as Error).message})`, {
      cause: err,
    });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads and checks the `state.json` of a checkpoint folder: format
 * {@link CHECKPOINT_FORMAT}, a step, a config object, weight names per model key and the
 * optimiser's state names. The tensors (`tensors.safetensors`) are the reader's to load.
 * @param checkpointDir - a `checkpoints/step-NNNNNNNN` folder.
 * @throws RunDirError naming `state.json` when it is missing, not JSON or not of that form.
 */
export function readCheckpointState(checkpointDir: string): StoredCheckpointState {
  const path = checkpointPaths(checkpointDir).state;
  const state = readJsonFile(path, 'the checkpoint state');
  if (!isObject(state)) throw new RunDirError(path, 'expected a checkpoint state (a JSON object)');
  if (state.format !== CHECKPOINT_FORMAT)
    throw new RunDirError(
      path,
      `checkpoint format ${CHECKPOINT_FORMAT} expected, got ${JSON.stringify(state.format) ?? 'none'}`,
    );
  const names = (v: unknown): v is string[] =>
    Array.isArray(v) && v.every((s) => typeof s === 'string');
  const problem = !(Number.isInteger(state.step) && (state.step as number) >= 0)
    ? `a step (an integer >= 0), got ${JSON.stringify(state.step) ?? 'none'}`
    : !isObject(state.config)
      ? 'a config object'
      : !isObject(state.weights) || !Object.values(state.weights).every(names)
        ? 'weights: the weight names of each model key'
        : state.optimizer !== undefined && !names(state.optimizer)
          ? "optimizer: the optimiser's state names"
          : undefined;
  if (problem) throw new RunDirError(path, `not a checkpoint state: expected ${problem}`);
  return { ...state, optimizer: state.optimizer ?? [] } as unknown as StoredCheckpointState;
}

// ---------------------------------------------------------------- config.json

/**
 * The text `config.json` holds for `config`: JSON with a 2-space indent and a final newline.
 * @param config - the experiment config.
 */
export function runConfigText(config: unknown): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * Writes the run's `config.json` (atomically, {@link writeFileAtomic}) and returns its path.
 * @param runDir - the run directory (created when missing).
 * @param config - the experiment config.
 */
export function writeRunConfig(runDir: string, config: unknown): string {
  const path = runPaths(runDir).config;
  writeFileAtomic(path, runConfigText(config));
  return path;
}

/**
 * The text of the run's `config.json`, or undefined when it has none.
 * @param runDir - the run directory.
 * @throws RunDirError when the file is there and cannot be read.
 */
export function readRunConfigText(runDir: string): string | undefined {
  const path = runPaths(runDir).config;
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new RunDirError(path, `cannot read the run config (${reasonOf(err)})`, { cause: err });
  }
}

/**
 * Reads the run's `config.json`: a JSON object (a `@ediy/trainer` `ExperimentConfig`;
 * `C` is the type the caller knows it to have).
 * @param runDir - the run directory.
 * @throws RunDirError naming `config.json` when it is missing, not JSON or not an object.
 */
export function readRunConfig<C = Record<string, unknown>>(runDir: string): C {
  const path = runPaths(runDir).config;
  const config = readJsonFile(path, 'the run config');
  if (!isObject(config))
    throw new RunDirError(
      path,
      `expected an experiment config (a JSON object), got ${typeof config}`,
    );
  return config as C;
}

// ---------------------------------------------------------------- log.jsonl

/** One record of `log.jsonl`: a JSON object with a numeric `step` (the trainer's `StepRecord`). */
export interface LogRecord {
  /** The optimiser step, 1-based. */
  step: number;
  /** The record's other fields (`loss`, `terms`, `lr`, ...). */
  [field: string]: unknown;
}

/**
 * Appends one record to a log as a line of JSON (the log's folder must exist: the run
 * directory, made by the run).
 * @param path - the log file (a run's {@link RunPaths.log}).
 * @param record - the record.
 * @throws Error `cannot append to <path> (<reason>)`.
 */
export function appendLogRecord(path: string, record: object): void {
  nonEmpty(path, 'path');
  try {
    appendFileSync(path, `${JSON.stringify(record)}\n`);
  } catch (err) {
    throw new Error(`cannot append to ${path} (${reasonOf(err)})`, { cause: err });
  }
}

/** A line of a log: its text and number, and the record it holds when it holds one. */
interface LogLine {
  text: string;
  line: number;
  record?: LogRecord;
  /** Why the line is not a record. */
  problem?: 'json' | 'fields';
  error?: string;
}

function logLines(path: string, numeric: readonly string[]): LogLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RunDirError(path, `cannot read the log (${reasonOf(err)})`, { cause: err });
  }
  const lines: LogLine[] = [];
  text.split('\n').forEach((t, i) => {
    if (t.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(t);
    } catch (err) {
      lines.push({ text: t, line: i + 1, problem: 'json', error: (err as Error).message });
      return;
    }
    const ok =
      isObject(value) &&
      typeof value.step === 'number' &&
      numeric.every((k) => typeof value[k] === 'number');
    lines.push(
      ok
        ? { text: t, line: i + 1, record: value as LogRecord }
        : { text: t, line: i + 1, problem: 'fields' },
    );
  });
  return lines;
}

/** Options of {@link readLog}. */
export interface ReadLogOptions {
  /**
   * A line that is not JSON or not a record is an error naming the file and the line
   * (default false: such lines, e.g. the last line cut short by a crash, are skipped).
   */
  strict?: boolean;
  /** Fields besides `step` a record must hold as numbers (e.g. `['loss']`). */
  numeric?: readonly string[];
  /**
   * One record per step, the last logged (a step logged twice by a run that stopped
   * before its checkpoint, then resumed), in step order (default false: every record in
   * the order of the file).
   */
  lastPerStep?: boolean;
}

/**
 * Reads the records of a log; [] when the file is absent.
 * @param path - the log file (a run's {@link RunPaths.log}).
 * @param options - strictness, required fields, one record per step.
 * @throws RunDirError `<path>:<line>: not a JSON step record (...)` or `<path>:<line>: a
 *   step record needs numeric 'step' ...` with `strict`.
 */
export function readLog(path: string, options: ReadLogOptions = {}): LogRecord[] {
  nonEmpty(path, 'path');
  if (!existsSync(path)) return [];
  const numeric = options.numeric ?? [];
  const records: LogRecord[] = [];
  for (const l of logLines(path, numeric)) {
    if (l.record) records.push(l.record);
    else if (options.strict) {
      const where = `${path}:${l.line}`;
      throw l.problem === 'json'
        ? new RunDirError(where, `not a JSON step record (${l.error ?? ''})`)
        : new RunDirError(
            where,
            `a step record needs numeric ${['step', ...numeric].map((k) => `'${k}'`).join(' and ')}, got ${l.text.slice(0, 80)}`,
          );
    }
  }
  if (!options.lastPerStep) return records;
  const bySteps = new Map<number, LogRecord>();
  for (const r of records) bySteps.set(r.step, r);
  return [...bySteps.values()].sort((a, b) => a.step - b.step);
}

/**
 * Cuts a log back to the records of steps `<= step` (those a run resumed from that
 * step's checkpoint does not repeat), dropping lines that are not records (a line cut
 * short by a crash); the lines kept are kept byte for byte. Written atomically
 * ({@link writeFileAtomic}), and only when a line is dropped.
 * @param path - the log file; nothing happens when it is absent.
 * @param step - the last step to keep.
 * @returns how many lines were dropped.
 */
export function truncateLog(path: string, step: number): number {
  nonEmpty(path, 'path');
  if (!(Number.isInteger(step) && step >= 0))
    throw new RangeError(`step must be an integer >= 0, got ${String(step)}`);
  if (!existsSync(path)) return 0;
  const lines = logLines(path, []);
  const kept = lines.filter((l) => l.record !== undefined && l.record.step <= step);
  if (kept.length === lines.length) return 0;
  writeFileAtomic(path, kept.map((l) => `${l.text}\n`).join(''));
  return lines.length - kept.length;
}

// ---------------------------------------------------------------- eval.json

/**
 * The text a JSON record of the run directory is written as: a 2-space indent, a final
 * newline, and a non-finite number (NaN: a metric the data cannot give) as null.
 * @param value - the record.
 */
export function jsonRecordText(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

/**
 * Writes a JSON record atomically ({@link writeFileAtomic}) as {@link jsonRecordText}
 * says: `eval.json`, `eval-untrained.json`, or any other record beside them.
 * @param path - the file (e.g. a run's {@link RunPaths.eval}); its folder is created.
 * @param value - the record.
 */
export function writeJsonRecord(path: string, value: unknown): void {
  writeFileAtomic(nonEmpty(path, 'path'), jsonRecordText(value));
}

/** What every evaluation record (`eval.json`, `eval-untrained.json`) holds. */
export interface StoredEvaluation {
  /** The metrics by name; NaN where the data could not give one (written as null). */
  metrics: Record<string, number>;
  /** The record's other fields (`steps`, `intervals`, `checkpoint`, `evalSeconds`, ...). */
  [field: string]: unknown;
}

/**
 * Reads an evaluation record written by {@link writeJsonRecord}: a JSON object whose
 * `metrics` is an object; a metric written as null (it was NaN) is read back as NaN.
 * `E` is the record type the caller knows the file to have.
 * @param path - the file (e.g. a run's {@link RunPaths.eval}).
 * @throws RunDirError naming the file when it is missing, not JSON or has no metrics.
 */
export function readEvalRecord<E extends StoredEvaluation = StoredEvaluation>(path: string): E {
  const record = readJsonFile(path, 'the evaluation');
  if (!isObject(record) || !isObject(record.metrics))
    throw new RunDirError(path, 'expected an evaluation record with metrics');
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(record.metrics)) {
    if (v === null) metrics[k] = NaN;
    else if (typeof v === 'number') metrics[k] = v;
    else
      throw new RunDirError(
        path,
        `metric ${k} must be a number (or null for NaN), got ${JSON.stringify(v)}`,
      );
  }
  return { ...record, metrics } as E;
}
