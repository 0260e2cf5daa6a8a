/**
 * `pretrain`: the E-DIY pre-training loop. Generic over the method: which loss terms,
 * weights and matchers run comes from the config, so a user's registered region loss
 * or matcher needs no change here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Rng, useFastTransposedMatMul } from '@ediy/backend';
import { Loader, disposeBatch } from '@ediy/data';
import { byolViewParams } from '@ediy/augment';
import { loadModelFromDir, resnet } from '@ediy/backbones';
import { LARS, emaTau, emaUpdate, warmupCosineLr, type NamedTensor } from '@ediy/optim';
import { validateConfig, type ExperimentConfig } from './config.js';
import { latestCheckpoint, loadCheckpoint, restoreWeights, saveCheckpoint } from './checkpoint.js';
import { openDataset } from './data.js';
import {
  buildOnline,
  buildTarget,
  disposeModels,
  emaPairs,
  namedModels,
  onlineModules,
  trainableVariables,
} from './networks.js';
import { JsonlLog, Progress, type ProgressStream, type StepRecord } from './progress.js';
import { addTiming, termNames, type PhaseTimings } from './step.js';
import { ReplicaPool, dataParallelStep, resolveWorkers, type WorkersOption } from './replica.js';
import { useFastBatchNorm } from './batchnorm.js';

/** Raised when a loss term is NaN or infinite; the last good checkpoint is left intact. */
export class NonFiniteLossError extends Error {
  /**
   * @param step - the optimiser step (1-based) at which it happened.
   * @param term - the first non-finite term (`loss` for the weighted sum).
   * @param value - its value.
   */
  constructor(
    readonly step: number,
    readonly term: string,
    readonly value: number,
  ) {
    super(
      `loss term '${term}' is ${value} at step ${step}; stopping (the last good checkpoint is kept)`,
    );
    this.name = 'NonFiniteLossError';
  }
}

/** Options of {@link pretrain}. */
export interface PretrainOptions {
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
    model.trainable = false;
    useFastBatchNorm(model);
    return model;
  }
  const ckptDir = latestCheckpoint(join(spec.run, 'checkpoints'));
  if (!ckptDir)
    throw new Error(
      `teacher run ${spec.run} has no checkpoint (expected ${join(spec.run, 'checkpoints', 'step-*')})`,
    );
  const ckpt = loadCheckpoint(ckptDir);
  try {
    const teacher = resnet({
      ...ckpt.state.config.scale.backbone,
      name: 'teacher_backbone',
      seed: 0,
    });
    restoreWeights(
      teacher,
      ckpt.weights['online.backbone'],
      `teacher (${ckptDir}) online.backbone`,
    );
    teacher.trainable = false;
    useFastBatchNorm(teacher);
    return teacher;
  } finally {
    tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);
  }
}

function needsTeacher(config: ExperimentConfig): boolean {
  return config.method.regionLosses.some((t) => t.matcher === 'teacher');
}

/** Total optimiser steps of a config over a dataset of `size` images. */
export function totalSteps(config: ExperimentConfig, size: number): number {
  const perStep = config.scale.batchSize * config.scale.accumulate;
  const stepsPerEpoch = Math.floor(size / perStep);
  if (stepsPerEpoch < 1) {
    throw new Error(
      `the dataset has ${size} images, fewer than one optimiser step needs (batchSize ${config.scale.batchSize} x accumulate ${config.scale.accumulate})`,
    );
  }
  const byEpochs = config.scale.epochs * stepsPerEpoch;
  return config.scale.maxSteps === undefined ? byEpochs : Math.min(byEpochs, config.scale.maxSteps);
}

/**
 * Pre-trains a network as the config says, checkpointing as it goes. On wasm it
 * installs {@link useFastTransposedMatMul} (same numbers, faster dense-layer gradients).
 *
 * With `resume` (default) a run directory holding checkpoints continues exactly where
 * its newest checkpoint stopped: same weights, optimiser state, data position and random
 * streams, so a run stopped and resumed gives the same losses as an uninterrupted one.
 */
export async function pretrain(
  config: ExperimentConfig,
  options: PretrainOptions = {},
): Promise<PretrainResult> {
  validateConfig(config);
  if (needsTeacher(config) && !config.teacher) {
    throw new Error(
      `config ${config.name} uses the 'teacher' matcher but names no teacher (config.teacher = { run } or { modelDir })`,
    );
  }
  const runDir = resolve(options.runDir ?? join('runs', config.name));
  const ckptRoot = join(runDir, 'checkpoints');
  mkdirSync(runDir, { recursive: true });
  const configPath = join(runDir, 'config.json');
  if (existsSync(configPath) && options.resume !== false) {
    const previous = readFileSync(configPath, 'utf8');
    if (previous !== `${JSON.stringify(config, null, 2)}\n` && latestCheckpoint(ckptRoot)) {
      throw new Error(
        `${runDir} holds a run of another config: resume it with that config, or choose another run directory`,
      );
    }
  }
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);

  useFastTransposedMatMul();
  const dataset = await openDataset(config.scale.data);
  const total = totalSteps(config, dataset.size);
  const micro = config.scale.batchSize;
  const effectiveBatch = micro * config.scale.accumulate;
  const stepsPerEpoch = Math.floor(dataset.size / effectiveBatch);
  // Blur sigma scales with the view size, so a small view is blurred as a 224 px one is.
  const views = byolViewParams(config.scale.imageSize, { scaleBlurSigma: true });

  const online = buildOnline(config);
  const target = buildTarget(config, online);
  const teacher = await loadTeacher(config);
  const models = namedModels(online, target);
  const workersOption = options.workers ?? 1;
  let pool: ReplicaPool | undefined;
  const optimizer = new LARS({
    learningRate: 0,
    momentum: config.optim.momentum,
    weightDecay: config.optim.weightDecay,
    eta: config.optim.eta,
  });
  const loader = new Loader(dataset, {
    batchSize: micro,
    seed: config.seed,
    shuffle: true,
    dropLast: true,
    prefetch: true,
  });
  let rng = new Rng(config.seed).fork('train');
  const variableNames = trainableVariables(onlineModules(online)).map((v) => v.name);
  let step = 0;

  const resumeFrom = options.resume === false ? undefined : latestCheckpoint(ckptRoot);
  const release = (): void => {
    disposeModels([
      ...onlineModules(online),
      target.backbone,
      target.projector,
      target.localProjector,
      ...(teacher ? [teacher] : []),
    ]);
    optimizer.dispose();
  };
  if (resumeFrom) {
    try {
      const ckpt = loadCheckpoint(resumeFrom);
      try {
        for (const [key, model] of Object.entries(models))
          restoreWeights(model, ckpt.weights[key], key);
        // LARS keeps its own references: the checkpoint's tensors are disposed below.
        await optimizer.setWeights(fromSlotNames(ckpt.optimizer, variableNames));
      } finally {
        tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);
      }
      step = ckpt.state.step;
      loader.seek(ckpt.state.dataPosition);
      rng = Rng.fromState(ckpt.state.rng);
    } catch (err) {
      release();
      throw err;
    }
  }

  const log = new JsonlLog(join(runDir, 'log.jsonl'));
  const progress =
    options.progress === null
      ? undefined
      : new Progress(options.label ?? config.name, total, options.progress ?? process.stderr);
  if (resumeFrom)
    progress?.message(
      `${options.label ?? config.name}: resuming at step ${step}/${total} from ${resumeFrom}`,
    );
  const names = termNames(config);
  const records: StepRecord[] = [];
  const started = performance.now();
  let lastCheckpoint = resumeFrom ?? '';
  const stopAt = Math.min(
    total,
    options.stopAfter === undefined ? total : step + options.stopAfter,
  );
  const warmupSteps = Math.round(config.optim.warmupEpochs * stepsPerEpoch);
  const save = async (): Promise<string> => {
    const state = await optimizer.getWeights(); // copies, ours to dispose
    try {
      return await saveCheckpoint(
        ckptRoot,
        { step, dataPosition: loader.position(), rng: rng.state(), config },
        models,
        toSlotNames(state, variableNames),
        config.checkpoint.keep,
      );
    } finally {
      tf.dispose(state.map((s) => s.tensor));
    }
  };

  try {
    const workers = resolveWorkers(workersOption, config);
    pool = await startPool(
      config,
      workers,
      workersOption === 'auto',
      views,
      teacher,
      options.workerImports ?? [],
      (m) => progress?.message(`${options.label ?? config.name}: ${m}`),
    );
    while (step < stopAt) {
      const t0 = performance.now();
      const lr = warmupCosineLr(
        { baseLr: config.optim.baseLr, batchSize: effectiveBatch, warmupSteps, totalSteps: total },
        step,
      );
      const stepRng = rng.fork(`step-${step}`);
      let summed: tf.NamedTensorMap | undefined;
      const termSums: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
      let lossSum = 0;
      let epoch = loader.position().epoch;
      const phases: PhaseTimings = {};
      const replicas = pool ? 2 : 1;
      for (let m = 0; m < config.scale.accumulate; m++) {
        epoch = loader.position().epoch;
        const batch = loader.next();
        let results;
        try {
          results = await dataParallelStep(
            config,
            { online, target, ...(teacher ? { teacher } : {}) },
            batch.images,
            (k) => stepRng.fork(`micro-${m * replicas + k}`),
            views,
            pool,
            step,
          );
        } finally {
          disposeBatch(batch);
        }
        for (const [phase, ms] of Object.entries(results[0]?.timings ?? {}))
          addTiming(phases, phase as keyof PhaseTimings, ms);
        for (const result of results) {
          lossSum += result.loss;
          for (const n of names) termSums[n] = (termSums[n] ?? 0) + (result.terms[n] ?? 0);
          if (!summed) summed = result.grads;
          else {
            const prev: tf.NamedTensorMap = summed;
            summed = Object.fromEntries(
              Object.entries(result.grads).map(([k, g]) => [k, tf.add(prev[k] as tf.Tensor, g)]),
            );
            tf.dispose([...Object.values(prev), ...Object.values(result.grads)]);
          }
        }
      }
      const parts = config.scale.accumulate * replicas;
      const loss = lossSum / parts;
      const terms = Object.fromEntries(names.map((n) => [n, (termSums[n] ?? 0) / parts]));
      for (const [term, value] of [...Object.entries(terms), ['loss', loss] as const]) {
        if (!Number.isFinite(value)) {
          tf.dispose(Object.values(summed ?? {}));
          throw new NonFiniteLossError(step + 1, term, value);
        }
      }
      const grads = summed as tf.NamedTensorMap;
      let t = performance.now();
      const mean =
        parts === 1
          ? grads
          : tf.tidy(() =>
              Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.div(g, parts)])),
            );
      optimizer.setLearningRate(lr);
      optimizer.applyGradients(mean);
      tf.dispose(Object.values(grads));
      if (mean !== grads) tf.dispose(Object.values(mean));
      addTiming(phases, 'optimizer', performance.now() - t);
      t = performance.now();
      step += 1;
      const tau = emaTau({ tau0: config.optim.tau0, totalSteps: total }, step);
      for (const [from, to] of emaPairs(online, target)) {
        emaUpdate(trainableVariables([to]), trainableVariables([from]), tau);
      }
      addTiming(phases, 'ema', performance.now() - t);
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
      records.push(record);
      log.write(record);
      const perStep = record.elapsedSec / records.length;
      progress?.update(record, perStep * (total - step));
      options.onStep?.(record);
      if (step % config.checkpoint.every === 0 || step === stopAt) lastCheckpoint = await save();
    }
  } finally {
    await pool?.terminate();
    release();
  }
  return {
    runDir,
    steps: step,
    totalSteps: total,
    finished: step >= total,
    checkpoint: lastCheckpoint,
    records,
  };
}

/**
 * Starts the replica worker when `workers` is 2. A worker that fails to start, or a config
 * naming a region loss or matcher the worker does not know, is an error when 2 threads
 * were asked for, and means one thread under `auto` (said through `note`).
 */
async function startPool(
  config: ExperimentConfig,
  workers: 1 | 2,
  auto: boolean,
  views: ReturnType<typeof byolViewParams>,
  teacher: LayersModel | undefined,
  imports: readonly string[],
  note: (message: string) => void,
): Promise<ReplicaPool | undefined> {
  if (workers === 1) return undefined;
  let pool: ReplicaPool;
  try {
    pool = await ReplicaPool.start({ config, views, imports, ...(teacher ? { teacher } : {}) });
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

/**
 * tfjs names variables uniquely per process (a second model gets `_1` suffixes), so the
 * optimiser state is saved under the variable's position in the online network instead.
 */
function toSlotNames(state: NamedTensor[], variableNames: readonly string[]): NamedTensor[] {
  const index = new Map(variableNames.map((n, i) => [n, i]));
  return state.map(({ name, tensor }) => {
    const slash = name.lastIndexOf('/');
    const i = slash < 0 ? undefined : index.get(name.slice(0, slash));
    return { name: i === undefined ? name : `slot${i}${name.slice(slash)}`, tensor };
  });
}

/** The inverse of {@link toSlotNames} for the variables of this process. */
function fromSlotNames(state: NamedTensor[], variableNames: readonly string[]): NamedTensor[] {
  return state.map(({ name, tensor }) => {
    const m = /^slot(\d+)(\/.*)$/.exec(name);
    if (!m) return { name, tensor };
    const variable = variableNames[Number(m[1])];
    if (variable === undefined)
      throw new Error(
        `checkpoint optimiser state ${name} has no variable: the network has ${variableNames.length}`,
      );
    return { name: `${variable}${m[2]}`, tensor };
  });
}
