/**
 * The target network's exponential moving average (BYOL): its momentum schedule and
 * the in-place update.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInRange, assertInteger } from '@ediy/core';
import { checkStep } from './step.js';
import { FUSED_UPDATE_KERNELS, canFuse } from './fused.js';

/** Parameters of {@link emaTau}. */
export interface EmaTauConfig {
  /** The momentum at step 0, in [0, 1] (default BYOL's 0.996). */
  tau0?: number;
  /** Total steps K, an integer >= 1. */
  totalSteps: number;
}

/**
 * BYOL's target momentum at step k of K, rising from tau0 at k = 0 to 1 at k = K on
 * a cosine:
 *
 * ```text
 * tau(k) = 1 - (1 - tau0) * (cos(pi * k / K) + 1) / 2
 * ```
 *
 * Throws, naming the value, when tau0 is outside [0, 1], K is not an integer >= 1, or
 * k is not an integer in [0, K].
 */
export function emaTau(config: EmaTauConfig, step: number): number {
  const tau0 = config.tau0 ?? 0.996;
  assertInRange(tau0, 0, 1, 'emaTau tau0');
  assertInteger(config.totalSteps, 1, 'emaTau totalSteps');
  checkStep(step, config.totalSteps, 'emaTau');
  return 1 - ((1 - tau0) * (Math.cos((Math.PI * step) / config.totalSteps) + 1)) / 2;
}

/**
 * A variable {@link emaUpdate} can read and overwrite: a `tf.Variable` (written with
 * `assign`) or a tfjs-layers `LayerVariable` (written with `write`, e.g. the entries of
 * `model.weights`).
 */
export type EmaVariable =
  | tf.Variable
  | {
      readonly name: string;
      readonly shape: readonly number[];
      read(): tf.Tensor;
      write(value: tf.Tensor): unknown;
    };

function isTfVariable(v: EmaVariable): v is tf.Variable {
  return typeof (v as Partial<tf.Variable>).assign === 'function';
}

function valueOf(v: EmaVariable): tf.Tensor {
  return isTfVariable(v) ? v : v.read();
}

/**
 * Moves each target variable towards its online counterpart, in place:
 *
 * ```text
 * target = tau * target + (1 - tau) * online
 * ```
 *
 * `targetVars[i]` pairs with `onlineVars[i]`. tau = 1 leaves the target unchanged,
 * tau = 0 copies the online weights. Allocates nothing that outlives the call. Throws,
 * before writing anything, when the lists differ in length, a pair differs in shape
 * (naming both variables), or tau is outside [0, 1].
 */
export function emaUpdate(
  targetVars: readonly EmaVariable[],
  onlineVars: readonly EmaVariable[],
  tau: number,
): void {
  assertInRange(tau, 0, 1, 'emaUpdate tau');
  if (targetVars.length !== onlineVars.length) {
    throw new Error(
      `emaUpdate: ${targetVars.length} target variables but ${onlineVars.length} online variables; they must pair up one to one`,
    );
  }
  targetVars.forEach((target, i) => {
    const online = onlineVars[i] as EmaVariable;
    if (!tf.util.arraysEqual([...target.shape], [...online.shape])) {
      throw new Error(
        `emaUpdate: target '${target.name}' has shape [${target.shape.join(',')}] but online '${online.name}' has shape [${online.shape.join(',')}] (pair ${i})`,
      );
    }
  });
  const targets = targetVars.map(valueOf);
  const onlines = onlineVars.map(valueOf);
  // Fused only when no target is written twice or read as an online value, where the
  // composition's order (pair by pair) would matter.
  const written = new Set(targets);
  const independent = written.size === targets.length && onlines.every((o) => !written.has(o));
  if (independent && canFuse(FUSED_UPDATE_KERNELS.ema, [...targets, ...onlines])) {
    // One kernel call for every pair, the same bits as the composition below.
    tf.tidy(() => {
      const inputs: tf.NamedTensorMap = {};
      targets.forEach((t, i) => {
        inputs[`t${i}`] = t;
        inputs[`o${i}`] = onlines[i] as tf.Tensor;
      });
      const outs = tf.engine().runKernel(FUSED_UPDATE_KERNELS.ema, inputs, {
        tau,
        count: targets.length,
      }) as tf.Tensor[];
      targetVars.forEach((target, i) => write(target, outs[i] as tf.Tensor));
    });
    return;
  }
  tf.tidy(() => {
    const keep = tf.scalar(tau);
    const take = tf.scalar(1 - tau);
    targets.forEach((target, i) => {
      const next = tf.add(tf.mul(keep, target), tf.mul(take, onlines[i] as tf.Tensor));
      write(targetVars[i] as EmaVariable, next);
    });
  });
}

function write(target: EmaVariable, next: tf.Tensor): void {
  if (isTfVariable(target)) target.assign(next);
  else target.write(next);
}
