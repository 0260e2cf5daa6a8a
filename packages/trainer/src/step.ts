/**
 * One E-DIY training micro-step: two BYOL views, the teacher's and the target's forward
 * passes (no gradient), the online forward pass, Eq. 3's terms, and the gradients of
 * the weighted sum with respect to the online parameters.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { DeviceChecks, type Rng } from '@ediy/backend';
import { runReads, runReadsAsync, type TensorReads } from '@ediy/core';
import { byolViews, type AugmentedView, type ViewParams } from '@ediy/augment';
import { weightedSum } from '@ediy/losses';
import type { ExperimentConfig } from './config.js';
import type { OnlineNetwork, TargetNetwork } from './networks.js';
import { methodOf, variables, type MethodNetworks } from './state.js';

/**
 * The phases a training step is timed in. {@link microStep} times the first seven;
 * the loop adds `optimizer` (LARS) and `ema` (the target update), and with a replica
 * worker `sync` (waiting for it and copying weights and gradients).
 * - `augment`: the two BYOL views.
 * - `teacher`: the frozen teacher's layer4 maps of both views.
 * - `target`: the target backbone and projectors on both views.
 * - `online-forward`: the online backbone, heads and loss terms (matchers excluded).
 * - `matchers`: pairing regions (inside the online forward pass).
 * - `online-backward`: back-propagation to the online parameters.
 * - `readback`: reading the loss values into JS.
 */
export type StepPhase =
  | 'augment'
  | 'teacher'
  | 'target'
  | 'online-forward'
  | 'matchers'
  | 'online-backward'
  | 'readback'
  | 'optimizer'
  | 'ema'
  | 'sync';

/** Milliseconds spent per phase; phases that did not run are absent. */
export type PhaseTimings = Partial<Record<StepPhase, number>>;

/** What one micro-step produced. The caller owns `grads`. */
export interface MicroStepResult {
  /** Gradients of the weighted loss, keyed by variable name. */
  grads: tf.NamedTensorMap;
  /** The weighted loss (Eq. 3). */
  loss: number;
  /** Each term before weighting, keyed by term name (`byol`, `r-dem`, `r-iem`, ...). */
  terms: Record<string, number>;
  /** Wall-clock milliseconds per phase of this micro-step. */
  timings: PhaseTimings;
}

/** Adds `ms` to `timings[phase]`. */
export function addTiming(timings: PhaseTimings, phase: StepPhase, ms: number): void {
  timings[phase] = (timings[phase] ?? 0) + ms;
}

function applyModel(model: LayersModel, x: tf.Tensor, training: boolean): tf.Tensor[] {
  const out = model.apply(x, { training });
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}

function first(out: tf.Tensor[]): tf.Tensor {
  const t = out[0];
  if (!t) throw new Error('a model returned no output');
  return t;
}

/**
 * The teacher's maps of both views. The teacher runs in inference mode (BatchNorm uses
 * its moving statistics), so each image's map does not depend on the rest of the batch:
 * both views go through it as one batch of 2B, which gives the same maps in one pass.
 */
function teacherMaps(
  teacher: LayersModel,
  x1: tf.Tensor4D,
  x2: tf.Tensor4D,
): [tf.Tensor4D, tf.Tensor4D] {
  return tf.tidy(() => {
    const maps = first(applyModel(teacher, tf.concat([x1, x2], 0), false)) as tf.Tensor4D;
    const b = x1.shape[0];
    return [
      tf.slice(maps, [0, 0, 0, 0], [b, -1, -1, -1]),
      tf.slice(maps, [b, 0, 0, 0], [-1, -1, -1, -1]),
    ];
  });
}

/**
 * A micro-step computed but not read yet: the gradients, and the loss, its terms and the
 * pending input checks packed in one tensor.
 */
interface ComputedStep {
  grads: tf.NamedTensorMap;
  /** `[loss, ...terms, ...check values]`. */
  packed: tf.Tensor1D;
  names: string[];
  checks: DeviceChecks;
  timings: PhaseTimings;
  /** When the readback started (performance.now()). */
  readStart: number;
}

/**
 * One micro-step as reads (`@ediy/core`'s `TensorReads`): computes it, yields the packed
 * loss values and deferred input checks for one read, and finishes with what was read.
 * {@link microStep} runs it with `runReads`, {@link microStepAsync} with `runReadsAsync`:
 * the same computation and the same one read, so the same result on every backend.
 */
function* microStepReads<Online, Target>(
  config: ExperimentConfig,
  nets: MethodNetworks<Online, Target>,
  images: tf.Tensor4D,
  rng: Rng,
  views: readonly [ViewParams, ViewParams],
): TensorReads<MicroStepResult> {
  const computed = computeMicroStep(config, nets, images, rng, views);
  let values: ArrayLike<number> | undefined;
  try {
    // the runner reads `packed` and disposes it
    values = ((yield [computed.packed]) as [tf.TypedArray])[0];
  } finally {
    if (values === undefined) {
      // the read failed: nothing of the step is handed out
      computed.checks.close();
      tf.dispose(Object.values(computed.grads));
    }
  }
  return finish(computed, values);
}

/**
 * Computes one micro-batch's gradients: the two views, the teacher's maps and the
 * method's target outputs (both without gradient), then the method's terms, their
 * weighted sum (`@ediy/losses`' `weightedSum`) and its gradients with respect to the
 * trainable variables of {@link variables}. Reads the loss values synchronously: on
 * tfjs-backend-webgpu in Node use {@link microStepAsync}.
 * @param images - the source batch [B,H,W,3] in [0,1] (not disposed).
 * @param rng - this micro-step's random stream (augmentation and random matchers).
 */
export function microStep<Online = OnlineNetwork, Target = TargetNetwork>(
  config: ExperimentConfig,
  nets: MethodNetworks<Online, Target>,
  images: tf.Tensor4D,
  rng: Rng,
  views: readonly [ViewParams, ViewParams],
): MicroStepResult {
  return runReads(microStepReads(config, nets, images, rng, views));
}

/**
 * {@link microStep} with one asynchronous read of the loss values and of the input
 * checks left on the device (a GPU backend defers the checks of augment, matchers and
 * losses to this read, see `DeviceChecks` of `@ediy/core`). The same values on every
 * backend (one implementation, run either way); the only micro-step that runs on
 * tfjs-backend-webgpu in Node, where synchronous reads are impossible.
 */
export function microStepAsync<Online = OnlineNetwork, Target = TargetNetwork>(
  config: ExperimentConfig,
  nets: MethodNetworks<Online, Target>,
  images: tf.Tensor4D,
  rng: Rng,
  views: readonly [ViewParams, ViewParams],
): Promise<MicroStepResult> {
  return runReadsAsync(microStepReads(config, nets, images, rng, views));
}

function finish(computed: ComputedStep, values: ArrayLike<number>): MicroStepResult {
  const { grads, names, checks, timings } = computed;
  const n = names.length + 1;
  try {
    checks.judge(Array.prototype.slice.call(values, n) as number[]);
  } catch (err) {
    tf.dispose(Object.values(grads));
    throw err;
  }
  const terms: Record<string, number> = {};
  names.forEach((name, i) => {
    terms[name] = values[i + 1] as number;
  });
  addTiming(timings, 'readback', performance.now() - computed.readStart);
  return { grads, loss: values[0] as number, terms, timings };
}

function computeMicroStep<Online, Target>(
  config: ExperimentConfig,
  nets: MethodNetworks<Online, Target>,
  images: tf.Tensor4D,
  rng: Rng,
  views: readonly [ViewParams, ViewParams],
): ComputedStep {
  // On a GPU backend the input checks stay on the device until the one read below.
  const checks = DeviceChecks.open();
  try {
    return computeChecked(config, nets, images, rng, views, checks);
  } catch (err) {
    checks.close();
    throw err;
  }
}

function computeChecked<Online, Target>(
  config: ExperimentConfig,
  nets: MethodNetworks<Online, Target>,
  images: tf.Tensor4D,
  rng: Rng,
  views: readonly [ViewParams, ViewParams],
  checks: DeviceChecks,
): ComputedStep {
  const method = methodOf(nets);
  const { online, target, teacher } = nets;
  const timings: PhaseTimings = {};
  let t = performance.now();
  const lap = (phase: StepPhase): void => {
    const now = performance.now();
    addTiming(timings, phase, now - t);
    t = now;
  };

  const augmented = byolViews(images, rng.fork('augment'), views);
  const [v1, v2] = augmented;
  lap('augment');
  // The teacher and the target record no gradient: computed outside the tape.
  const maps = teacher ? teacherMaps(teacher, v1.images, v2.images) : undefined;
  lap('teacher');
  const targets = method.targets(config, target, v1.images, v2.images);
  lap('target');

  const matchRng = rng.fork('matchers');
  let matcherMs = 0;
  const timeMatchers = <T>(f: () => T): T => {
    const start = performance.now();
    try {
      return f();
    } finally {
      matcherMs += performance.now() - start;
    }
  };
  const weights = method.weights(config);
  const kept: tf.Scalar[] = [];
  let names: string[] = [];
  let forwardEnd = 0;
  const { value, grads } = tf.variableGrads(() => {
    const terms = method.terms(config, {
      online,
      views: augmented,
      targets,
      ...(maps ? { teacher: maps } : {}),
      rng: matchRng,
      timeMatchers,
    });
    names = Object.keys(terms);
    for (const term of Object.values(terms)) kept.push(tf.keep(term));
    const total = weightedSum(terms, weights);
    forwardEnd = performance.now();
    return total;
  }, [...variables(nets).trainable]);
  addTiming(timings, 'online-forward', forwardEnd - t - matcherMs);
  if (matcherMs > 0) addTiming(timings, 'matchers', matcherMs);
  addTiming(timings, 'online-backward', performance.now() - forwardEnd);
  checks.stop();
  const readStart = performance.now();

  // One read of every value (and of the deferred checks) instead of one per term.
  const deferred = checks.packed();
  const packed = tf.tidy(() => {
    const losses = tf.stack([value, ...kept]) as tf.Tensor1D;
    return deferred ? tf.concat([losses, deferred]) : losses;
  });
  tf.dispose([value, ...kept, deferred ?? []]);
  disposeViews(augmented);
  tf.dispose([Object.values(targets), maps ?? []]);
  return { grads, packed, names, checks, timings, readStart };
}

function disposeViews(views: readonly AugmentedView[]): void {
  for (const v of views) v.images.dispose();
}
