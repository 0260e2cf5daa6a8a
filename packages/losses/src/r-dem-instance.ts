/**
 * R-INS: R-DEM with another image's global feature as the negative (Table 1, DenseCL-style).
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertShapes, checkOnDevice } from '@ediy/core';
import { gatherRegions } from '@ediy/matchers';
import { asRegions, cosine } from './cosine.js';

/**
 * Which global feature of the other image is the negative.
 * - `'pooled-local'` (default): the mean over regions of the other image's online local
 *   projection in the same view. It lives in the same space as the regions it is compared
 *   with, as DenseCL's dense negatives do (pooled outputs of its dense head), and needs no
 *   extra input.
 * - `'global'`: the other image's online global projection, `global[v]` `[B,D]`, `D = C`
 *   (the paper's two projectors have the same output size).
 */
export type RDemInstanceNegative = 'pooled-local' | 'global';

/** Options of {@link rDemInstanceLoss}. */
export interface RDemInstanceOptions {
  /** The negative's feature (default `'pooled-local'`). */
  negative?: RDemInstanceNegative;
  /** `[g1, g2]`, online global projections `[B,C]`; required for `negative: 'global'`. */
  global?: readonly [tf.Tensor2D, tf.Tensor2D];
}

/**
 * Table 1's R-INS: `sum_v mean_{b,j} cos(l_v[b,j], g_v[o(b)])`, in `[-2, 2]`, where `o(b)` is
 * another image of the batch (`otherImage`) and `g_v` the global feature chosen by
 * {@link RDemInstanceOptions.negative}. As in R-DEM, minimising it pushes each region away
 * from its negative, and the gradient flows through both sides.
 *
 * @param local - `[l1, l2]` online local projections, each `[B,H,W,C]` or `[B,N,C]`.
 * @param other - int32 `[B]`, for each image the index of another image (never itself).
 * @returns a new scalar owned by the caller.
 */
export function rDemInstanceLoss(
  local: readonly [tf.Tensor, tf.Tensor],
  other: tf.Tensor1D,
  options: RDemInstanceOptions = {},
): tf.Scalar {
  const negative = options.negative ?? 'pooled-local';
  if (negative !== 'pooled-local' && negative !== 'global') {
    throw new Error(
      `R-INS negative must be 'pooled-local' or 'global', got ${JSON.stringify(negative)}`,
    );
  }
  if (negative === 'global' && !options.global) {
    throw new Error(
      "R-INS with negative 'global' needs options.global, the online global projections [g1, g2]",
    );
  }
  if (other.rank === 1 && (other.shape[0] as number) < 2) {
    throw new Error(`R-INS needs a batch of at least 2 images, got B=${other.shape[0]}`);
  }
  if (other.dtype !== 'int32') {
    throw new Error(`other must be int32 image indices, got ${other.dtype}`);
  }
  checkOnDevice(tf.clone(other), (values) => {
    const own = Array.from(values).findIndex((o, i) => o === i);
    if (own >= 0) {
      throw new Error(
        `other must pick another image for each image, but other[${own}] = ${own} (see otherImage)`,
      );
    }
  });
  return tf.tidy(() => {
    const terms = [0, 1].map((v) => {
      const l = asRegions(local[v] as tf.Tensor, `local[${v}]`);
      const { B } = assertShapes([
        [l, ['B', null, 'C'], `local[${v}] (as [B,N,C])`],
        [other, ['B'], 'other'],
      ]);
      if ((B as number) < 2)
        throw new Error(`R-INS needs a batch of at least 2 images, got B=${B}`);
      const g =
        negative === 'global'
          ? (options.global?.[v] as tf.Tensor2D)
          : (tf.mean(l, 1) as tf.Tensor2D);
      assertShapes([[g, ['B', 'C'], negative === 'global' ? `global[${v}]` : 'pooled local']], {
        B: B as number,
        C: l.shape[2],
      });
      // g[o(b)] for every b, as [1,B,C] gathered with [1,B] indices
      const gOther = tf.reshape(
        gatherRegions(tf.expandDims(g, 0), tf.expandDims(other, 0) as tf.Tensor2D),
        [B as number, 1, l.shape[2]],
      );
      return tf.mean(cosine(l, gOther));
    });
    return tf.add(terms[0] as tf.Tensor, terms[1] as tf.Tensor) as tf.Scalar;
  });
}
