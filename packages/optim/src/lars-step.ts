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
  /**
   * solo-learn's learning-rate clipping (default false): the trust ratio r becomes
   * min(r / lr, 1), see {@link clippedTrustRatio}.
   */
  clip?: boolean;
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
 * The trust ratio with solo-learn's learning-rate clipping (`clip_lars_lr` of
 * solo-learn's `solo/utils/lars.py`, from PyTorch Lightning Bolts): r' = min(r / lr, 1)
 * for r = {@link trustRatio}(w, u, eta), so that the step lr * r' * u is min(r, lr) * u:
 * a layer moves by its adaptive rate r, capped at the global learning rate lr. When
 * either norm is 0, r' = 1, as solo-learn leaves such a gradient unscaled. With lr = 0
 * there is nothing to clip to and r' = r, BYOL's unclipped trust ratio: the step is 0,
 * but r' u enters the momentum buffer, which later steps multiply by their learning rate.
 * The limit of min(r / lr, 1), 1 (solo-learn's value, a division by zero), would put the
 * raw gradient there, which a warm-up's next step (lr > 0) then applies unadapted: with
 * BYOL's warm-up starting at lr = 0 and a short run (3 warm-up steps), that moved the first
 * convolution of the mini ResNet by ~10% of its norm at step 1 instead of ~2%, and the
 * momentum carried it on for ~10 steps. Only the clipping is solo-learn's: r keeps BYOL's
 * form eta * ||w|| / ||g + wd * w||, where solo-learn divides by ||g|| + wd * ||w|| + 1e-8.
 * Returns a new scalar the caller owns.
 */
export function clippedTrustRatio(
  w: tf.Tensor,
  u: tf.Tensor,
  eta: number,
  learningRate: number,
): tf.Scalar {
  return tf.tidy(() => {
    if (!(learningRate > 0)) return trustRatio(w, u, eta);
    const wNorm = tf.sqrt(tf.sum(tf.square(w)));
    const uNorm = tf.sqrt(tf.sum(tf.square(u)));
    const ratio = tf.div(tf.mul(tf.scalar(eta / learningRate), wNorm), uNorm);
    const clipped = tf.minimum(ratio, tf.scalar(1));
    const bothPositive = tf.logicalAnd(tf.greater(wNorm, 0), tf.greater(uNorm, 0));
    return tf.where(bothPositive, clipped, tf.onesLike(clipped)) as tf.Scalar;
  });
}

/**
 * One LARS step for parameter `w` with gradient `g` and momentum `v`:
 *
 * ```text
 * not excluded:  g'' = r * (g + wd * w),  r = trustRatio(w, g + wd * w, eta)
 *                (clip: r = clippedTrustRatio(w, g + wd * w, eta, lr))
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
      const ratio =
        hyper.clip === true
          ? clippedTrustRatio(w, update, hyper.eta, hyper.learningRate)
          : trustRatio(w, update, hyper.eta);
      update = tf.mul(ratio, update);
    }
    const vNext = tf.add(tf.mul(tf.scalar(hyper.momentum), v), update);
    const wNext = tf.sub(w, tf.mul(tf.scalar(hyper.learningRate), vNext));
    return { w: wNext, v: vNext };
  });
}
