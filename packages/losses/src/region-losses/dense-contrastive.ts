/**
 * A DenseCL-style dense contrastive loss, registered as the region loss 'dense-contrastive'.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertShapes } from '@ediy/core';
import { gatherRegions, type MatcherName } from '@ediy/matchers';
import { asRegions, unit } from '../cosine.js';
import { registerRegionLoss, type RegionLoss } from '../region-loss.js';
import { stopGradient } from '../stop-gradient.js';

/** Options of {@link denseContrastiveLoss} and the 'dense-contrastive' region loss. */
export interface DenseContrastiveOptions {
  /** Matcher for the positive of each region, `across` views (default 'teacher'). */
  matcher?: MatcherName;
  /** Softmax temperature tau > 0 (default 0.2, DenseCL's). */
  temperature?: number;
}

/**
 * DenseCL's dense InfoNCE (Wang et al., 2021) with in-batch negatives instead of a queue.
 * For image b, region j of the query view, with `q = unit(query[b,j])`, positive
 * `k+ = unit(key[b, S(j)])` and negatives `k-_{b'} = unit(mean_z key[b', z])` for the other
 * images `b' != b` (their pooled keys, as DenseCL's queue holds):
 *
 * `l(b,j) = -log( exp(q·k+/tau) / (exp(q·k+/tau) + sum_{b' != b} exp(q·k-_{b'}/tau)) )`,
 *
 * averaged over b and j. Keys receive no gradient.
 *
 * @param query - online local projections of one view, `[B,H,W,C]` or `[B,N,C]`, `B >= 2`.
 * @param key - target local projections of the other view, `[B,H',W',C]` or `[B,M,C]`.
 * @param matches - int32 `[B,N]`, the positive of each query region, indices into `key`'s regions.
 * @param temperature - tau > 0.
 * @returns a new scalar owned by the caller.
 */
export function denseContrastiveLoss(
  query: tf.Tensor,
  key: tf.Tensor,
  matches: tf.Tensor2D,
  temperature = 0.2,
): tf.Scalar {
  if (!(typeof temperature === 'number' && temperature > 0 && Number.isFinite(temperature))) {
    throw new RangeError(`temperature must be a finite number > 0, got ${String(temperature)}`);
  }
  return tf.tidy(() => {
    const q = asRegions(query, 'query');
    const k = stopGradient(asRegions(key, 'key'));
    const { B, N, C } = assertShapes([
      [q, ['B', 'N', 'C'], 'query (as [B,N,C])'],
      [k, ['B', null, 'C'], 'key (as [B,M,C])'],
      [matches, ['B', 'N'], 'matches'],
    ]) as { B: number; N: number; C: number };
    if (B < 2)
      throw new Error(
        `dense contrastive loss needs a batch of at least 2 images for negatives, got B=${B}`,
      );
    const qn = unit(q);
    const pos = tf.sum(tf.mul(qn, unit(gatherRegions(k, matches))), -1, true); // [B,N,1]
    const pooled = unit(tf.mean(k, 1)); // [B,C]
    const neg = tf.reshape(tf.matMul(tf.reshape(qn, [B * N, C]), pooled, false, true), [B, N, B]);
    // an image is not its own negative: push its column to -1e9 before the softmax
    const own = tf.reshape(tf.mul(tf.eye(B), -1e9), [B, 1, B]);
    const logits = tf.div(tf.concat([pos, tf.add(neg, own)], 2), temperature);
    return tf.mean(
      tf.sub(tf.logSumExp(logits, 2), tf.squeeze(tf.slice(logits, [0, 0, 0], [B, N, 1]), [2])),
    ) as tf.Scalar;
  });
}

/**
 * 'dense-contrastive': {@link denseContrastiveLoss} both ways, `local[v]` against
 * `targetLocal[w]` with positives `match(matcher, 'across', v)`, averaged over the two views.
 */
export const denseContrastiveRegionLoss: RegionLoss<DenseContrastiveOptions> = (inputs, options) =>
  tf.tidy(() => {
    const matcher = options.matcher ?? 'teacher';
    const tau = options.temperature ?? 0.2;
    const l1 = denseContrastiveLoss(
      inputs.local[0],
      inputs.targetLocal[1],
      inputs.match(matcher, 'across', 0),
      tau,
    );
    const l2 = denseContrastiveLoss(
      inputs.local[1],
      inputs.targetLocal[0],
      inputs.match(matcher, 'across', 1),
      tau,
    );
    return tf.div(tf.add(l1, l2), 2) as tf.Scalar;
  });

registerRegionLoss('dense-contrastive', denseContrastiveRegionLoss);
