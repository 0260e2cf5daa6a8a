/**
 * The learning-rate schedule of BYOL: linear warm-up, then cosine decay to zero.
 */
import { assertInRange, assertInteger } from '@ediy/core';
import { checkStep } from './step.js';

/** Parameters of {@link warmupCosineLr}. */
export interface WarmupCosineLrConfig {
  /** Learning rate per 256 images (BYOL: 0.2), finite and >= 0. */
  baseLr: number;
  /** The effective batch size (after gradient accumulation), an integer >= 1. */
  batchSize: number;
  /** Warm-up steps W, an integer in [0, totalSteps - 1]. */
  warmupSteps: number;
  /** Total steps K, an integer >= 1. */
  totalSteps: number;
}

/**
 * The learning rate at `step` (BYOL's `learning_schedule`): with peak
 * P = baseLr * batchSize / 256 (the linear scaling rule; 0.2 x 4096 / 256 = 3.2),
 *
 * ```text
 * step <  W:  lr = P * step / W                                  (linear warm-up)
 * step >= W:  lr = P * (1 + cos(pi * (step - W) / (K - W))) / 2  (cosine to 0)
 * ```
 *
 * So lr(0) = 0 when W > 0 (the first step does not move the weights) and lr(0) = P
 * when W = 0; lr(W) = P, lr(K) = 0. Throws, naming the value, on a negative or
 * non-finite baseLr, a non-integer or non-positive batch or step count, W >= K, or a
 * step outside [0, K].
 */
export function warmupCosineLr(config: WarmupCosineLrConfig, step: number): number {
  const { baseLr, batchSize, warmupSteps, totalSteps } = config;
  assertInRange(baseLr, 0, Infinity, 'warmupCosineLr baseLr');
  assertInteger(batchSize, 1, 'warmupCosineLr batchSize');
  assertInteger(totalSteps, 1, 'warmupCosineLr totalSteps');
  assertInteger(warmupSteps, 0, 'warmupCosineLr warmupSteps');
  if (warmupSteps >= totalSteps) {
    throw new RangeError(
      `warmupCosineLr warmupSteps must be < totalSteps (${totalSteps}), got ${warmupSteps}`,
    );
  }
  checkStep(step, totalSteps, 'warmupCosineLr');
  const peak = (baseLr * batchSize) / 256;
  if (step < warmupSteps) return (peak * step) / warmupSteps;
  const progress = (step - warmupSteps) / (totalSteps - warmupSteps);
  return (peak * (1 + Math.cos(Math.PI * progress))) / 2;
}
