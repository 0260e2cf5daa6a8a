/**
 * One LARS update as pure functions of tensors, in BYOL's order: weight decay,
 * trust-ratio scaling, momentum, learning rate.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The hyperparameters of one {@link larsStep}. */
export interface LarsHyper {
  /** Learning rate lr. */
  learningRate: number;
  /** Momentum coefficient m. */
  momentum: number;
  /** Weight decay wd. */
  weightDecay: number;
  /** Trust coefficient eta. */
  eta: number;
}

/**
 * LARS's trust ratio r = eta * ||w|| / ||u|| (Euclidean norms of the whole tensors),
 * or 1 when either norm is 0, as in BYOL. Returns a new scalar the caller owns.
 */
export function trustRatio(w: tf.Tensor, u: tf.Tensor, eta: number): tf.Scalar {
  return tf.tidy(() => {
    // sqrt(sum(x^2)) rather than tf.norm, which is ~10x slower on the wasm backend
    const wNorm = tf.sqrt(tf.sum(tf.square(w)));
    const uNorm = tf.sqrt(tf.sum(tf.square(u)));
    const ratio = tf.div(tf.mul(tf.scalar(eta), wNorm), uNorm);
    const bothPositive = tf.logicalAnd(tf.greater(wNorm, 0), tf.greater(uNorm, 0));
    return tf.where(bothPositive, ratio, tf.onesLike(ratio)) as tf.Scalar;
  });
}

/**
 * One LARS step for parameter `w` with gradient `g` and momentum `v`:
 *
 * ```text
 * not excluded:  g'' = trustRatio(w, g + wd * w, eta) * (g + wd * w)
 * excluded:      g'' = g
 * then:          v'  = m * v + g''
 *                w'  = w - lr * v'
 * ```
 *
 * Returns new tensors `{ w: w', v: v' }` the caller owns; the inputs are untouched.
 */
export function larsStep(
  w: tf.Tensor,
  g: tf.Tensor,
  v: tf.Tensor,
  hyper: LarsHyper,
  excluded: boolean,
): { w: tf.Tensor; v: tf.Tensor } {
  return tf.tidy(() => {
    let update = g;
    if (!excluded) {
      update = tf.add(g, tf.mul(tf.scalar(hyper.weightDecay), w));
      update = tf.mul(trustRatio(w, update, hyper.eta), update);
    }
    const vNext = tf.add(tf.mul(tf.scalar(hyper.momentum), v), update);
    const wNext = tf.sub(w, tf.mul(tf.scalar(hyper.learningRate), vNext));
    return { w: wNext, v: vNext };
  });
}
