/**
 * One optimiser step of E-DIY, without I/O: `accumulate` micro-batches' gradients
 * averaged, checked finite, LARS, then the target's EMA, then the weights checked finite.
 * {@link pretrain} runs it in its loop; tests run it on networks they hold.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@ediy/core';
import type { ViewParams } from '@ediy/augment';
import { emaUpdate, type LARS } from '@ediy/optim';
import type { ExperimentConfig } from './config.js';
import { assertFiniteAsync } from './finite.js';
import { EDIY } from './ediy-method.js';
import type { OnlineNetwork, TargetNetwork } from './networks.js';
import { addTiming, type PhaseTimings } from './step.js';
import { oneThread, twoThreads, type GradientStrategy, type ReplicaPool } from './replica.js';
import { variables, type MethodNetworks, type StateVariables, type TrainState } from './state.js';

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

/** The networks a step reads and updates (E-DIY's unless `method` says otherwise). */
export type StepNetworks<Online = OnlineNetwork, Target = TargetNetwork> = MethodNetworks<
  Online,
  Target
>;

/** What {@link trainStep} works with, the same from step to step. */
export interface TrainStepContext<Online = OnlineNetwork, Target = TargetNetwork> {
  /** The run's config (method, scale, optimiser). */
  config: ExperimentConfig;
  /** The networks. */
  nets: StepNetworks<Online, Target>;
  /** The optimiser of the online network's trainable variables. */
  optimizer: LARS;
  /** The two views' augmentation parameters. */
  views: readonly [ViewParams, ViewParams];
  /** The worker of a two-thread run (the same as `gradients: twoThreads(pool)`). */
  pool?: ReplicaPool;
  /** How a micro-batch's gradients are computed (default {@link oneThread}, or `twoThreads(pool)`). */
  gradients?: GradientStrategy;
}

/** A micro-batch handed to {@link trainStep}; the step calls `dispose` once it is used. */
export interface StepBatch {
  /** `[B,H,W,3]` images in [0, 1]. */
  images: tf.Tensor4D;
  /** Frees the batch. */
  dispose(): void;
}

/** The per-step inputs of {@link trainStep}. */
export interface TrainStepInput {
  /** k: steps done before this one (0-based); the error messages name step k + 1. */
  step: number;
  /** The learning rate of this step. */
  lr: number;
  /** The EMA momentum of this step's target update (BYOL: tau(k)). */
  tau: number;
  /** This step's random stream; micro-batch m of replica r uses `rng.fork('micro-' + (m * replicas + r))`. */
  rng: Rng;
  /**
   * Micro-batch m of the step (called `accumulate` times, m = 0, 1, ..., each after the
   * previous one is used); it may resolve later (a streamed batch being decoded).
   */
  batch: (m: number) => StepBatch | Promise<StepBatch>;
}

/** What one optimiser step computed. */
export interface TrainStepResult {
  /** The weighted loss (Eq. 3), averaged over micro-batches (and replicas). */
  loss: number;
  /** Each term, averaged likewise. */
  terms: Record<string, number>;
  /** Milliseconds per phase. */
  phases: PhaseTimings;
}

/**
 * Readable names of a state's weights, keyed by variable name:
 * `online.backbone conv1/kernel` (the checkpoint's model key and the weight's name).
 */
export function weightLabels(vars: StateVariables): Map<string, string>;
/** The same for E-DIY's networks. */
export function weightLabels(online: OnlineNetwork, target: TargetNetwork): Map<string, string>;
export function weightLabels(
  a: StateVariables | OnlineNetwork,
  target?: TargetNetwork,
): Map<string, string> {
  const vars = target ? variables({ online: a as OnlineNetwork, target }) : (a as StateVariables);
  const labels = new Map<string, string>();
  for (const { key, model } of vars.models) {
    for (const w of model.weights) labels.set(w.name, `${key} ${w.originalName}`);
  }
  return labels;
}

/**
 * One optimiser step: for each of `config.scale.accumulate` micro-batches the gradients
 * of Eq. 3 (split over the worker when there is one), their mean, LARS at `lr`, then
 * `target = tau * target + (1 - tau) * online'` for every target variable. The teacher
 * is not touched. Stops with {@link NonFiniteLossError} on a non-finite loss term, and
 * with a {@link NonFiniteTensorError} naming the tensor on a non-finite input image,
 * gradient (before any weight changes) or weight after the update, so no such value
 * ever reaches a checkpoint.
 */
export async function trainStep<Online, Target>(
  context: TrainStepContext<Online, Target>,
  input: TrainStepInput,
): Promise<TrainStepResult> {
  const { config, nets, optimizer, views, pool } = context;
  const gradients = context.gradients ?? (pool ? twoThreads(pool) : oneThread);
  const vars = variables(nets);
  const step = input.step + 1;
  const names = Object.keys(nets.method?.weights(config) ?? EDIY.weights(config));
  let summed: tf.NamedTensorMap | undefined;
  const termSums: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  let lossSum = 0;
  const phases: PhaseTimings = {};
  const replicas = gradients.replicas;
  const release = (): void => tf.dispose(Object.values(summed ?? {}));
  try {
    for (let m = 0; m < config.scale.accumulate; m++) {
      const batch = await input.batch(m);
      let results;
      try {
        await assertFiniteAsync(step, [[`input images of micro-batch ${m}`, batch.images]]);
        results = await gradients.compute(
          config,
          nets,
          batch.images,
          (k) => input.rng.fork(`micro-${m * replicas + k}`),
          views,
          input.step,
        );
      } finally {
        batch.dispose();
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
  } catch (err) {
    release();
    throw err;
  }
  const parts = config.scale.accumulate * replicas;
  const loss = lossSum / parts;
  const terms = Object.fromEntries(names.map((n) => [n, (termSums[n] ?? 0) / parts]));
  for (const [term, value] of [...Object.entries(terms), ['loss', loss] as const]) {
    if (!Number.isFinite(value)) {
      release();
      throw new NonFiniteLossError(step, term, value);
    }
  }
  const grads = summed as tf.NamedTensorMap;
  const labels = weightLabels(vars);
  let t = performance.now();
  try {
    await assertFiniteAsync(
      step,
      Object.entries(grads).map(([k, g]) => [`gradient of ${labels.get(k) ?? k}`, g] as const),
    );
  } catch (err) {
    release();
    throw err;
  }
  // The mean over micro-batches (and replicas): an accumulated step is the step of the joined batch.
  const mean =
    parts === 1
      ? grads
      : tf.tidy(() =>
          Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.div(g, parts)])),
        );
  optimizer.setLearningRate(input.lr);
  optimizer.applyGradients(mean);
  tf.dispose(Object.values(grads));
  if (mean !== grads) tf.dispose(Object.values(mean));
  addTiming(phases, 'optimizer', performance.now() - t);
  t = performance.now();
  emaUpdate(
    vars.ema.map(([, to]) => to),
    vars.ema.map(([from]) => from),
    input.tau,
  );
  addTiming(phases, 'ema', performance.now() - t);
  await assertFiniteAsync(
    step,
    vars.models.flatMap(({ model }) =>
      model.weights.map(
        (w) => [`weight ${labels.get(w.name) ?? w.name} after the update`, w.read()] as const,
      ),
    ),
  );
  return { loss, terms, phases };
}

/** What {@link update} needs besides the state, the same from step to step. */
export interface UpdateContext {
  /** The run's config (method, scale, optimiser). */
  config: ExperimentConfig;
  /** The two views' augmentation parameters. */
  views: readonly [ViewParams, ViewParams];
  /** How a micro-batch's gradients are computed (default {@link oneThread}). */
  gradients?: GradientStrategy;
}

/** One step's schedule values and micro-batches, for {@link update}. */
export interface UpdateInput {
  /** The learning rate of this step. */
  lr: number;
  /** The EMA momentum of this step (BYOL: tau(k) for k = `state.step`). */
  tau: number;
  /**
   * Micro-batch m of the step (called `accumulate` times, m = 0, 1, ..., each after the
   * previous one is used); it may resolve later (a streamed batch being decoded).
   */
  batch: (m: number) => StepBatch | Promise<StepBatch>;
}

/**
 * One optimiser step of a {@link TrainState}, without I/O: {@link trainStep} (accumulate,
 * LARS, EMA, finiteness checks) on its networks and optimiser with the stream
 * `state.rng.fork('step-' + state.step)`, then `state.step + 1`. The data position is the
 * caller's (it knows the loader). On an error the step is not counted.
 */
export async function update<Online, Target>(
  state: TrainState<Online, Target>,
  context: UpdateContext,
  input: UpdateInput,
): Promise<TrainStepResult> {
  const result = await trainStep(
    {
      config: context.config,
      nets: state,
      optimizer: state.optimizer,
      views: context.views,
      ...(context.gradients ? { gradients: context.gradients } : {}),
    },
    {
      step: state.step,
      lr: input.lr,
      tau: input.tau,
      rng: state.rng.fork(`step-${state.step}`),
      batch: input.batch,
    },
  );
  state.step += 1;
  return result;
}
