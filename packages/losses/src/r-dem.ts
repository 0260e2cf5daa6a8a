/**
 * R-DEM, the region-level diversity loss (Eq. 5).
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertShapes } from '@ediy/core';
import { gatherRegions } from '@ediy/matchers';
import { asRegions, cosine } from './cosine.js';

/**
 * How Eq. 5's two identical-looking terms are read.
 * - `'per-view'` (default, DESIGN.md): one term per view, `term(l1, D1) + term(l2, D2)`.
 * - `'first-view-twice'`: the equation as printed, the first view's term counted twice,
 *   `2 * term(l1, D1)`; the second view's inputs are checked but not used.
 */
export type RDemReading = 'per-view' | 'first-view-twice';

/** Options of {@link rDemLoss}. */
export interface RDemOptions {
  /** Reading of Eq. 5 (default `'per-view'`). */
  reading?: RDemReading;
}

/**
 * One view's R-DEM term: `mean_{b,j} cos(l[b,j], l[b,D(j)])`, in `[-1, 1]`. The gradient
 * flows through both regions of each pair.
 *
 * @param local - online local projections of one view, `[B,H,W,C]` or `[B,N,C]`.
 * @param partners - int32 `[B,N]`, `D(j)`, indices into the same view (Eq. 4).
 * @returns a new scalar owned by the caller.
 */
export function rDemTerm(local: tf.Tensor, partners: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const l = asRegions(local, 'local');
    assertShapes([
      [l, ['B', 'N', 'C'], 'local (as [B,N,C])'],
      [partners, ['B', 'N'], 'partners'],
    ]);
    return tf.mean(cosine(l, gatherRegions(l, partners))) as tf.Scalar;
  });
}

/**
 * Eq. 5, R-DEM: `sum_v mean_j cos(l_v[j], l_v[D_v(j)])`, also averaged over the batch, in
 * `[-2, 2]`. `l_v` is the online local projection of view `v` and `D_v(j)` the most
 * dissimilar region of the same view (Eq. 4, from the teacher). Minimising it pushes the
 * paired regions apart; the gradient flows through both sides of every pair.
 *
 * The paper prints the same term twice; by default it is read as one term per view (see
 * {@link RDemReading} for the other reading).
 *
 * @param local - `[l1, l2]`, each `[B,H,W,C]` or `[B,N,C]`.
 * @param partners - `[D1, D2]`, int32 `[B,N]` each, indices into the same view.
 * @returns a new scalar owned by the caller.
 */
export function rDemLoss(
  local: readonly [tf.Tensor, tf.Tensor],
  partners: readonly [tf.Tensor2D, tf.Tensor2D],
  options: RDemOptions = {},
): tf.Scalar {
  const reading = options.reading ?? 'per-view';
  if (reading !== 'per-view' && reading !== 'first-view-twice') {
    throw new Error(
      `R-DEM reading must be 'per-view' or 'first-view-twice', got ${JSON.stringify(reading)}`,
    );
  }
  return tf.tidy(() => {
    const l1 = asRegions(local[0], 'local[0]');
    const l2 = asRegions(local[1], 'local[1]');
    assertShapes([
      [l1, ['B', 'N', 'C'], 'local[0] (as [B,N,C])'],
      [l2, ['B', null, 'C'], 'local[1] (as [B,N,C])'],
      [partners[0], ['B', 'N'], 'partners[0]'],
    ]);
    assertShapes([[partners[1], [l2.shape[0], l2.shape[1]], 'partners[1]']]);
    if (reading === 'first-view-twice') return tf.mul(2, rDemTerm(l1, partners[0])) as tf.Scalar;
    return tf.add(rDemTerm(l1, partners[0]), rDemTerm(l2, partners[1])) as tf.Scalar;
  });
}
