/**
 * `pretrain`: the E-DIY pre-training loop. Generic over the method: which loss terms,
 * weights and matchers run comes from the config, so a user's registered region loss
 * or matcher needs no change here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { join, resolve } from 'node:path';
import { useFastTransposedMatMul } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { newestCheckpoint, runPaths, truncateLog, writeFileAtomic } from '@ediy/core/node';
import {
  disposeBatch,
  openTrainingData,
  type TrainingBatches,
  type TrainingData,
} from '@ediy/data';
import type { ViewParams } from '@ediy/augment';
import { resnet, withFastBatchNorm } from '@ediy/backbones';
import { loadModelFromDir } from '@ediy/backbones/node';
import { fromLayersModel } from '@ediy/eval';
import { LARS, emaTau, warmupCosineLr } from '@ediy/optim';
import { validateConfig, type ExperimentConfig } from './config.js';
import { runSchedule } from './schedule.js';
import { viewParamsOf } from './views.js';
import { checkStepMemory, describeEstimate } from './memory.js';
import { checkTeacherMap } from './teacher-map.js';
import {
  checkpointName,
  listCheckpoints,
  loadCheckpoint,
  restoreWeights,
  type Checkpoint,
} from './checkpoint.js';
import { JsonlLog, Progress, type ProgressStream, type StepRecord } from './progress.js';
import {
  ReplicaPool,
  oneThread,
  resolveWorkers,
  twoThreads,
  type WorkersOption,
} from './replica.js';
import { assertWeightsFiniteAsync } from './finite.js';
import { update } from './update.js';
import { EDIY } from './ediy-method.js';
import type { Method } from './method.js';
import { FAST_RESNET, type OnlineNetwork, type TargetNetwork } from './networks.js';
import { disposeState, restoreState, saveState, type TrainState } from './state.js';
import { moveDamagedAside, prepareRunDir, watchInterrupts } from './run.js';
import { firstDifference } from './run-dir.js';
import { LoggerSet, stepScalars, type TrainLogger } from './loggers/logger.js';
import { TensorBoardLogger } from './loggers/tensorboard.js';
import { KnnMonitor, checkMonitorOptions, type MonitorOptions } from './loggers/knn-monitor.js';

/** Options of {@link pretrain}. */
export interface PretrainOptions<Online = OnlineNetwork, Target = TargetNetwork> {
  /** Run directory (config, log, checkpoints). Default `runs/<config.name>`. */
  runDir?: string;
  /** Continue from the newest checkpoint in the run directory when there is one (default true). */
  resume?: boolean;
  /** Stop after this many optimiser steps in this call (to split a run; the schedule is unchanged). */
  stopAfter?: number;
  /** Where the progress display goes (default process.stderr); `null` for none. */
  progress?: ProgressStream | null;
  /** Label of the progress display (default the config name). */
  label?: string;
  /** Called after every optimiser step. */
  onStep?: (record: StepRecord) => void;
  /**
   * Threads computing gradients (default 1; `'auto'`: see {@link resolveWorkers}). With 2,
   * each micro-batch is split in halves computed at once by this thread and a worker
   * thread ({@link ReplicaPool}); BatchNorm then uses each half's statistics, and a run
   * gives the losses of a one-thread run with half the batch and twice the accumulation.
   * That is another run than a one-thread one, so the default stays 1: the same config
   * and seed give the same run on every machine, whatever its core count.
   */
  workers?: WorkersOption;
  /**
   * Modules the worker thread imports first: those that register the config's own
   * region losses or matchers (the worker knows only the built-in ones otherwise).
   */
  workerImports?: readonly string[];
  /**
   * A module whose `importModule(path)` export the worker thread imports
   * {@link PretrainOptions.workerImports} and the method's module with: one that compiles
   * TypeScript, e.g. (the CLI passes its config loader). Default: the runtime's `import()`.
   */
  workerLoader?: string;
  /**
   * The method trained (default {@link EDIY}): its networks, modules and terms. With
   * `workers: 2` the worker thread imports it from its {@link Method.source}.
   */
  method?: Method<Online, Target>;
  /**
   * Where warnings go: a damaged checkpoint moved aside, an earlier run moved aside by a
   * fresh one. Default: a line on the progress stream (or process.stderr).
   */
  onWarning?: (message: string) => void;
  /** Stops the run after the current step, as Ctrl-C does (see {@link pretrain}). */
  signal?: AbortSignal;
  /** Whether Ctrl-C (SIGINT) stops the run after the current step (default true). */
  handleSigint?: boolean;
  /**
   * Sinks for each step's scalars ({@link stepScalars}) and the monitor's values,
   * called in order after the step is written to `log.jsonl`; each is closed when the
   * run ends, also when it stops on Ctrl-C, a signal or an error. A logger that throws
   * stops the run with an error naming it.
   */
  loggers?: readonly TrainLogger[];
  /**
   * Also write TensorBoard event files to `<runDir>/tb` ({@link TensorBoardLogger};
   * default false). A resumed run adds a file whose events replace the older files'
   * from the resumed step on.
   */
  tensorboard?: boolean;
  /**
   * The kNN monitor ({@link KnnMonitor}): every `every` steps and at the last step of
   * the schedule, the online backbone's
   * weighted kNN top-1 on `images` held-out images of the config's data (the memory:
   * as many training images), logged as `monitor/knn_top1` with its cost
   * `monitor/knn_ms`, and as `monitor` in `log.jsonl`. Off by default. Needs labelled data.
   */
  monitor?: MonitorOptions;
  /**
   * An image that fails to decode while an image folder is streamed is an error naming
   * it (default false: it is reported through `onWarning` and the folder's next image is
   * read in its place).
   */
  strict?: boolean;
}

/** What {@link pretrain} did. */
export interface PretrainResult {
  /** The run directory. */
  runDir: string;
  /** Optimiser steps completed in total (including resumed ones). */
  steps: number;
  /** Total steps the schedule runs. */
  totalSteps: number;
  /** Whether the schedule is complete. */
  finished: boolean;
  /** The newest checkpoint written. */
  checkpoint: string;
  /** Records of the steps run in this call. */
  records: StepRecord[];
}

/** Loads the frozen teacher of a config. The caller disposes it. */
export async function loadTeacher(config: ExperimentConfig): Promise<LayersModel | undefined> {
  const spec = config.teacher;
  if (!spec) return undefined;
  if ('modelDir' in spec) {
    const model = await loadModelFromDir(spec.modelDir);
    if (model.outputs.length !== 2) {
      model.dispose();
      throw new Error(
        `teacher model ${spec.modelDir} must have two outputs [layer4 map, pooled], it has ${model.outputs.length}`,
      );
    }
    try {
      await assertWeightsFiniteAsync(model, `teacher model ${spec.modelDir}`);
    } catch (err) {
      model.dispose();
      throw err;
    }
    // The saved model's BatchNorm layers become FastBatchNormalization ones (a copy).
    const teacher = withFastBatchNorm(model);
    model.dispose();
    teacher.trainable = false;
    return teacher;
  }
  const ckptDir = newestCheckpoint(spec.run);
  if (!ckptDir)
    throw new Error(
      `teacher run ${spec.run} has no checkpoint (expected ${join(runPaths(spec.run).checkpoints, 'step-*')})`,
    );
  const ckpt = loadCheckpoint(ckptDir);
  try {
    const teacher = resnet(
      { ...ckpt.state.config.scale.backbone, name: 'teacher_backbone', seed: 0 },
      FAST_RESNET,
    );
    restoreWeights(
      teacher,
      ckpt.weights['online.backbone'],
      `teacher (${ckptDir}) online.backbone`,
    );
    teacher.trainable = false;
    return teacher;
  } finally {
    tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);
  }
}

function needsTeacher(config: ExperimentConfig): boolean {
  return config.method.regionLosses.some((t) => t.matcher === 'teacher');
}

/** Total optimiser steps of a config over a dataset of `size` images ({@link runSchedule}). */
export function totalSteps(config: ExperimentConfig, size: number): number {
  return runSchedule(config, size).totalSteps;
}

/** Raised when a run is stopped (Ctrl-C or `signal`) after a step: its checkpoint is written. */
export class PretrainInterruptedError extends Error {
  /**
   * @param step - the steps completed.
   * @param total - the steps of the schedule.
   * @param checkpoint - the checkpoint written for `step`, from which a rerun resumes.
   */
  constructor(
    readonly step: number,
    readonly total: number,
    readonly checkpoint: string,
  ) {
    super(
      `stopped at step ${step}/${total} (checkpoint ${checkpoint}); run the same command again to resume from step ${step}`,
    );
    this.name = 'PretrainInterruptedError';
  }
}

interface Resumable {
  ckpt: Checkpoint;
  damaged: Array<{ dir: string; reason: string }>;
}

/**
 * The newest checkpoint under `ckptRoot` that loads (complete, well formed, every
 * tensor finite), with the newer ones that did not. Throws when checkpoints exist and
 * none of them loads, naming each and why.
 */
function newestLoadable(ckptRoot: string): Resumable | undefined {
  const steps = listCheckpoints(ckptRoot).reverse();
  const damaged: Array<{ dir: string; reason: string }> = [];
  for (const s of steps) {
    const dir = join(ckptRoot, checkpointName(s));
    try {
      return { ckpt: loadCheckpoint(dir), damaged };
    } catch (err) {
      damaged.push({ dir, reason: (err as Error).message });
    }
  }
  if (damaged.length === 0) return undefined;
  throw new Error(
    `no checkpoint under ${ckptRoot} can be restored: ${damaged.map((d) => d.reason).join('; ')}. Move them away to start afresh (pretrain with resume: false, ediy pretrain --fresh)`,
  );
}

/**
 * Pre-trains a network as the config says, checkpointing as it goes. On wasm it
 * installs {@link useFastTransposedMatMul} (same numbers, faster dense-layer gradients).
 *
 * With `resume` (default) a run directory holding checkpoints continues exactly where
 * its newest checkpoint stopped: same weights, optimiser state, data position and random
 * streams, so a run stopped and resumed gives the same losses as an uninterrupted one.
 * The config must equal the run's `config.json` and the checkpoint's own copy. A newest
 * checkpoint that cannot be read (damaged, truncated, a non-finite tensor) is moved
 * aside to `damaged-step-N` with a warning and the previous one is used; the log is cut
 * back to the step resumed from. With `resume: false` an earlier run in the folder is
 * moved aside to `<runDir>.replaced-<time>` (said in a warning) and the run starts in
 * an empty folder.
 *
 * Ctrl-C (SIGINT) or `signal` stops the run after the current step: its checkpoint is
 * written and a {@link PretrainInterruptedError} says at which step it stopped and that
 * a rerun resumes there. A second Ctrl-C quits at once.
 */
export async function pretrain<Online = OnlineNetwork, Target = TargetNetwork>(
  config: ExperimentConfig,
  options: PretrainOptions<Online, Target> = {},
): Promise<PretrainResult> {
  return options.method
    ? runPretrain(config, options, options.method)
    : runPretrain(config, options, EDIY);
}

/** {@link pretrain} with its method resolved. */
async function runPretrain<Online, Target>(
  config: ExperimentConfig,
  options: PretrainOptions<unknown, unknown>,
  method: Method<Online, Target>,
): Promise<PretrainResult> {
  validateConfig(config);
  if (options.monitor !== undefined && !method.backbone)
    throw new Error(
      `the kNN monitor evaluates the method's backbone, and method ${method.name} has none (Method.backbone); run it without monitor`,
    );
  if (needsTeacher(config) && !config.teacher) {
    throw new Error(
      `config ${config.name} uses the 'teacher' matcher but names no teacher (config.teacher = { run } or { modelDir })`,
    );
  }
  const label = options.label ?? config.name;
  const progressStream =
    options.progress === null ? undefined : (options.progress ?? process.stderr);
  const warn =
    options.onWarning ??
    ((message: string) =>
      (progressStream ?? process.stderr).write(`${label}: warning: ${message}\n`));
  const resume = options.resume !== false;
  const userLoggers = new LoggerSet(options.loggers ?? []).loggers;
  if (options.monitor !== undefined) checkMonitorOptions(options.monitor);
  const { runDir, ckptRoot, configPath, configText } = prepareRunDir(
    config,
    resolve(options.runDir ?? join('runs', config.name)),
    resume,
    warn,
  );

  useFastTransposedMatMul();
  // Before anything is allocated: a step too large for the backend is an error naming the estimate.
  const memory = checkStepMemory(config, tf.getBackend());
  // An image folder's training part is streamed; the held-out part is only sampled by the monitor.
  const data = await openTrainingData(config.scale.data, options.strict ? { strict: true } : {});
  const monitor = options.monitor ? await monitorOf(data, options.monitor, config.seed) : undefined;
  const schedule = runSchedule(config, data.size);
  const total = schedule.totalSteps;
  const micro = config.scale.batchSize;
  const effectiveBatch = micro * config.scale.accumulate;
  // BYOL's views as the config's augment section changes them; blur sigma scales with the view size.
  const views = viewParamsOf(config);

  // Read before anything is allocated: a run that cannot resume leaves nothing behind.
  const resumable = resume ? newestLoadable(ckptRoot) : undefined;
  let state: TrainState<Online, Target>;
  try {
    state = await openState(method, config, resumable?.ckpt);
  } finally {
    const ckpt = resumable?.ckpt;
    if (ckpt)
      tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);
  }
  const resumeFrom = resumable?.ckpt.dir;
  const records: StepRecord[] = [];
  let lastCheckpoint = resumeFrom ?? '';
  const loggers = new LoggerSet(userLoggers);
  let loader: TrainingBatches | undefined;
  let interrupts: ReturnType<typeof watchInterrupts> | undefined;
  let pool: ReplicaPool | undefined;
  let failed = false;
  let closeError: Error | undefined;
  // From here on everything that throws frees the state, the stream, the worker and the loggers.
  try {
    const batches = data.batches({
      batchSize: micro,
      seed: config.seed,
      onUnreadable: (u) =>
        warn(`${u.path}: cannot decode (${u.reason}); the next image is read in its place`),
    });
    loader = batches;
    // A streamed folder's saved state also names its items: a changed folder is an error.
    if (resumable) batches.restore(state.data);
    moveDamagedAside(ckptRoot, resumable?.damaged ?? [], resumeFrom, warn);
    writeFileAtomic(configPath, configText);
    const logPath = runPaths(runDir).log;
    // Steps after the checkpoint were logged by a run that stopped before saving them: they are run again.
    if (resume) truncateLog(logPath, state.step);
    const log = new JsonlLog(logPath);
    const progress = progressStream ? new Progress(label, total, progressStream) : undefined;
    // A finished run (e.g. a teacher evaluated as a row) trains nothing and says nothing here.
    if (state.step < total) {
      progressStream?.write(`${label}: ${describeEstimate(config, memory)}\n`);
      if (resumeFrom)
        progress?.message(`${label}: resuming at step ${state.step}/${total} from ${resumeFrom}`);
    }
    const started = performance.now();
    let savedStep = resumable ? state.step : -1;
    const stopAt = Math.min(
      total,
      options.stopAfter === undefined ? total : state.step + options.stopAfter,
    );
    const warmupSteps = schedule.warmupSteps;
    const save = async (): Promise<string> => {
      const dir = await saveState(ckptRoot, state, config, config.checkpoint.keep);
      savedStep = state.step;
      return dir;
    };

    const watch = watchInterrupts(options, () =>
      progress?.message(
        `${label}: stopping at the end of the current step (its checkpoint is written); Ctrl-C again quits at once`,
      ),
    );
    interrupts = watch;
    if (options.tensorboard) {
      const dir = runPaths(runDir).tensorboard;
      loggers.add(new TensorBoardLogger(dir, resumeFrom ? { resumeStep: state.step + 1 } : {}));
    }
    const workersOption = options.workers ?? 1;
    const workers = resolveWorkers(workersOption, config);
    pool = await startPool(
      config,
      method,
      workers,
      workersOption === 'auto',
      views,
      state.teacher,
      {
        imports: options.workerImports ?? [],
        ...(options.workerLoader ? { loader: options.workerLoader } : {}),
      },
      (m) => progress?.message(`${label}: ${m}`),
    );
    const context = { config, views, gradients: pool ? twoThreads(pool) : oneThread };
    while (state.step < stopAt && !watch.requested) {
      const t0 = performance.now();
      const k = state.step;
      const lr = warmupCosineLr(
        { baseLr: config.optim.baseLr, batchSize: effectiveBatch, warmupSteps, totalSteps: total },
        k,
      );
      // BYOL's schedule: update k (0-based) moves the target with tau(k).
      const tau = emaTau({ tau0: config.optim.tau0, totalSteps: total }, k);
      let epoch = batches.position().epoch;
      const { loss, terms, phases } = await update(state, context, {
        lr,
        tau,
        batch: async () => {
          epoch = batches.position().epoch;
          const batch = await batches.next();
          return { images: batch.images, dispose: () => disposeBatch(batch) };
        },
      });
      state.data = batches.state();
      const step = state.step;
      const seconds = (performance.now() - t0) / 1000;
      const record: StepRecord = {
        step,
        epoch,
        loss,
        terms,
        lr,
        tau,
        imagesPerSec: effectiveBatch / seconds,
        elapsedSec: (performance.now() - started) / 1000,
        phases,
      };
      const scalars = stepScalars(record);
      // Every `every` steps, and at the schedule's end so a curve ends at the trained network.
      if (monitor && (step % (options.monitor as MonitorOptions).every === 0 || step === total)) {
        const extractor = fromLayersModel(backboneOf(method, state.online));
        const value = await monitor.measureAsync(extractor);
        record.monitor = value;
        scalars['monitor/knn_top1'] = value.knnTop1;
        scalars['monitor/knn_ms'] = value.ms;
      }
      records.push(record);
      log.write(record);
      await loggers.scalars(step, scalars);
      const perStep = record.elapsedSec / records.length;
      progress?.update(record, perStep * (total - step));
      options.onStep?.(record);
      // Signals are delivered between event-loop turns: give them one after each step.
      await new Promise((done) => setImmediate(done));
      if (step % config.checkpoint.every === 0 || step === stopAt || watch.requested)
        lastCheckpoint = await save();
    }
    if (watch.requested && state.step < total) {
      if (savedStep !== state.step) lastCheckpoint = await save();
      const error = new PretrainInterruptedError(state.step, total, lastCheckpoint);
      progress?.message(`${label}: ${error.message}`);
      throw error;
    }
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    interrupts?.close();
    await pool?.terminate();
    await loader?.close();
    disposeState(state);
    closeError = await loggers.close().then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    // The run's own error is the one to report; a logger failing to close after it is a warning.
    if (closeError && failed) warn(closeError.message);
  }
  if (closeError) throw closeError;
  return {
    runDir,
    steps: state.step,
    totalSteps: total,
    finished: state.step >= total,
    checkpoint: lastCheckpoint,
    records,
  };
}

/** The kNN monitor on samples of the training and held-out parts (only those images are decoded). */
async function monitorOf(
  data: TrainingData,
  options: MonitorOptions,
  seed: number,
): Promise<KnnMonitor> {
  const n = options.images ?? 1000;
  const [train, heldOut] = [
    await data.sample('train', n, seed),
    await data.sample('heldOut', n, seed),
  ];
  return KnnMonitor.fromData(train, heldOut, options, seed);
}

/** The backbone a method's online network evaluates with. */
function backboneOf<Online>(method: Method<Online, unknown>, online: Online): LayersModel {
  const backbone = method.backbone?.(online);
  if (!backbone) throw new Error(`method ${method.name} names no backbone (Method.backbone)`);
  return backbone;
}

/**
 * The state a run starts from: the method's networks, LARS, the stream and the frozen
 * teacher, set from `ckpt` when resuming (its config checked against `config`). Nothing
 * is left allocated when this throws; the checkpoint's tensors are the caller's.
 */
async function openState<Online, Target>(
  method: Method<Online, Target>,
  config: ExperimentConfig,
  ckpt: Checkpoint | undefined,
): Promise<TrainState<Online, Target>> {
  const { online, target } = method.build(config);
  const state: TrainState<Online, Target> = {
    method,
    online,
    target,
    optimizer: new LARS({
      learningRate: 0,
      momentum: config.optim.momentum,
      weightDecay: config.optim.weightDecay,
      eta: config.optim.eta,
      ...(config.optim.larsClip ? { clip: true } : {}),
    }),
    step: 0,
    rng: new Rng(config.seed).fork('train'),
    data: { epoch: 0, index: 0 },
  };
  try {
    const teacher = await loadTeacher(config);
    if (teacher) state.teacher = teacher;
    // The 'teacher' matcher pairs regions of its map: a map of one cell is an error saying what works.
    if (teacher && needsTeacher(config))
      checkTeacherMap(teacher, config.scale.imageSize, `teacher ${JSON.stringify(config.teacher)}`);
    if (ckpt) {
      const d = firstDifference(config, ckpt.state.config);
      if (d) {
        throw new Error(
          `${ckpt.dir} was written by another config: ${d.replace('there)', 'in the checkpoint)')}; resume it with that config, start afresh (resume: false, --fresh) or choose another run directory`,
        );
      }
      await restoreState(state, ckpt);
    }
    return state;
  } catch (err) {
    disposeState(state);
    throw err;
  }
}

/**
 * Starts the replica worker when `workers` is 2. A worker that fails to start, or a config
 * naming a region loss or matcher the worker does not know, is an error when 2 threads
 * were asked for, and means one thread under `auto` (said through `note`).
 */
async function startPool<Online, Target>(
  config: ExperimentConfig,
  method: Method<Online, Target>,
  workers: 1 | 2,
  auto: boolean,
  views: readonly [ViewParams, ViewParams],
  teacher: LayersModel | undefined,
  modules: { imports: readonly string[]; loader?: string },
  note: (message: string) => void,
): Promise<ReplicaPool | undefined> {
  if (workers === 1) return undefined;
  // The worker has E-DIY built in; any other method it imports from where the method says.
  const builtIn = Object.is(method, EDIY);
  if (!builtIn && !method.source) {
    const why = `method ${method.name} has no source (Method.source: the module and export a worker thread imports it from)`;
    if (!auto) throw new Error(`workers: 2 needs the method in the worker thread too: ${why}`);
    note(`one gradient thread: ${why}`);
    return undefined;
  }
  let pool: ReplicaPool;
  try {
    pool = await ReplicaPool.start({
      config,
      views,
      ...modules,
      ...(!builtIn && method.source ? { method: method.source } : {}),
      ...(teacher ? { teacher } : {}),
    });
  } catch (err) {
    if (!auto) throw err;
    note(`one gradient thread: the worker thread did not start (${(err as Error).message})`);
    return undefined;
  }
  const missing = pool.missingNames(config);
  if (missing.length === 0) return pool;
  await pool.terminate();
  if (auto) {
    note(
      `one gradient thread: the worker thread does not know ${missing.join(', ')} (see workerImports)`,
    );
    return undefined;
  }
  throw new Error(
    `workers: 2 needs every region loss and matcher registered in the worker thread too, and it does not know ${missing.join(', ')}: name the modules registering them in workerImports, or use workers: 1`,
  );
}
