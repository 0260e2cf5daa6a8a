/**
 * BYOL's loss (Eq. 2) and its per-term regression loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertShapes } from '@ediy/core';
import { cosine } from './cosine.js';
import { stopGradient } from './stop-gradient.js';

/**
 * One BYOL regression term: `2 - 2 * mean_b cos(p_b, z_b)`, in `[0, 4]`.
 *
 * "-cos vs 2-2cos": `2 - 2cos(p, z) = || p/|p| - z/|z| ||^2`, the squared distance of the
 * normalised vectors, as in the BYOL paper. Some code bases minimise `-cos` instead; that has
 * the same gradient up to a factor 2 and an offset of 2 (`2 - 2cos = 2 * (-cos) + 2`).
 *
 * `z` is a target and receives no gradient ({@link stopGradient}).
 *
 * @param p - online predictions `[B,D]`.
 * @param z - target projections `[B,D]`.
 * @returns a new scalar owned by the caller.
 */
export function regressionLoss(p: tf.Tensor2D, z: tf.Tensor2D): tf.Scalar {
  assertShapes([
    [p, ['B', 'D'], 'p (online prediction)'],
    [z, ['B', 'D'], 'z (target projection)'],
  ]);
  return tf.tidy(() => tf.sub(2, tf.mul(2, tf.mean(cosine(p, stopGradient(z))))) as tf.Scalar);
}

/**
 * Eq. 2, BYOL's symmetric loss, mean over the batch:
 *
 * `L = 4 - 2 cos(q(f(x1)), g(x2)) - 2 cos(q(f(x2)), g(x1))`
 *    `= regressionLoss(p1, z2) + regressionLoss(p2, z1)`, in `[0, 8]`,
 *
 * with `p_v = q(f(x_v))` the online predictions and `z_v = g(x_v)` the target projections.
 * (The paper prints `f` and `g` in the cosines and leaves the predictor `q` implicit; the
 * online side is the predictor output, as in BYOL.) Targets receive no gradient.
 *
 * @param onlinePredictions - `[p1, p2]`, `[B,D]` each.
 * @param targetProjections - `[z1, z2]`, `[B,D]` each.
 * @returns a new scalar owned by the caller.
 */
export function byolLoss(
  onlinePredictions: readonly [tf.Tensor2D, tf.Tensor2D],
  targetProjections: readonly [tf.Tensor2D, tf.Tensor2D],
): tf.Scalar {
  const [p1, p2] = onlinePredictions;
  const [z1, z2] = targetProjections;
  assertShapes([
    [p1, ['B', 'D'], 'onlinePredictions[0]'],
    [p2, ['B', 'D'], 'onlinePredictions[1]'],
    [z1, ['B', 'D'], 'targetProjections[0]'],
    [z2, ['B', 'D'], 'targetProjections[1]'],
  ]);
  return tf.tidy(() => tf.add(regressionLoss(p1, z2), regressionLoss(p2, z1)) as tf.Scalar);
}
