/**
 * R-IEM, the region-level invariance loss (Eq. 7).
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertShapes } from '@ediy/core';
import { gatherRegions } from '@ediy/matchers';
import { asRegions, cosine } from './cosine.js';
import { stopGradient } from './stop-gradient.js';

/**
 * One direction of R-IEM: `mean_{b,j} cos(p[b,j], t[b,S(j)])`, in `[-1, 1]`; `t` gets no
 * gradient.
 *
 * @param prediction - online local predictions of view v, `[B,H,W,C]` or `[B,N,C]`.
 * @param target - target local projections of the other view w, `[B,H',W',C]` or `[B,M,C]`.
 * @param matches - int32 `[B,N]`, indices into w's `M` regions (Eq. 6 across views).
 * @returns a new scalar owned by the caller.
 */
export function rIemTerm(
  prediction: tf.Tensor,
  target: tf.Tensor,
  matches: tf.Tensor2D,
): tf.Scalar {
  return tf.tidy(() => {
    const p = asRegions(prediction, 'prediction');
    const t = asRegions(target, 'target');
    assertShapes([
      [p, ['B', 'N', 'C'], 'prediction (as [B,N,C])'],
      [t, ['B', null, 'C'], 'target (as [B,M,C])'],
      [matches, ['B', 'N'], 'matches'],
    ]);
    return tf.mean(cosine(p, gatherRegions(stopGradient(t), matches))) as tf.Scalar;
  });
}

/**
 * Eq. 7 read across views (DESIGN.md), R-IEM:
 *
 * `L = 2 - mean_j cos(p_1[j], t_2[S_1(j)]) - mean_j cos(p_2[j], t_1[S_2(j)])`, in `[0, 4]`,
 *
 * also averaged over the batch, where `p_v` is the online local projection+predictor of view
 * `v`, `t_w` the target local projection of the other view and `S_v(j)` the most similar
 * region of the other view (Eq. 6). Targets receive no gradient. Without a local predictor
 * (the other reading of the paper), pass the online local projections as `predictions`.
 *
 * @param predictions - `[p1, p2]`, each `[B,H,W,C]` or `[B,N,C]`.
 * @param targets - `[t1, t2]`, each `[B,H,W,C]` or `[B,N,C]`.
 * @param matches - `[S1, S2]`: int32 `[B,N_1]` into view 2's regions, `[B,N_2]` into view 1's.
 * @returns a new scalar owned by the caller.
 */
export function rIemLoss(
  predictions: readonly [tf.Tensor, tf.Tensor],
  targets: readonly [tf.Tensor, tf.Tensor],
  matches: readonly [tf.Tensor2D, tf.Tensor2D],
): tf.Scalar {
  tf.tidy(() => {
    const [p1, p2] = [
      asRegions(predictions[0], 'predictions[0]'),
      asRegions(predictions[1], 'predictions[1]'),
    ];
    const [t1, t2] = [asRegions(targets[0], 'targets[0]'), asRegions(targets[1], 'targets[1]')];
    const { N1, N2 } = assertShapes([
      [p1, ['B', 'N1', 'C'], 'predictions[0] (as [B,N,C])'],
      [p2, ['B', 'N2', 'C'], 'predictions[1] (as [B,N,C])'],
      [t1, ['B', 'N1', 'C'], 'targets[0] (as [B,N,C])'],
      [t2, ['B', 'N2', 'C'], 'targets[1] (as [B,N,C])'],
      [matches[0], ['B', 'N1'], 'matches[0]'],
      [matches[1], ['B', 'N2'], 'matches[1]'],
    ]);
    void N1;
    void N2;
  });
  return tf.tidy(
    () =>
      tf.sub(
        tf.sub(2, rIemTerm(predictions[0], targets[1], matches[0])),
        rIemTerm(predictions[1], targets[0], matches[1]),
      ) as tf.Scalar,
  );
}
