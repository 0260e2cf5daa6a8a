/**
 * Teacher-guided R-DEM partners: the most dissimilar region of the same view (Eq. 4).
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertShape } from '@ediy/core';
import { pairwiseCosine } from './cosine.js';
import { assertFiniteTensor } from './finite.js';

/**
 * Eq. 4: `D(j) = argmin_{z != j} cos(T[z], T[j])` over the regions of the same view.
 *
 * The diagonal (a region with itself) is masked before the argmin, so a region is never
 * its own partner, even when all regions are identical. Ties go to the lowest index: with
 * identical regions, region 0 is paired with region 1 and every other region with region 0.
 * A zero vector has cosine 0 with everything.
 *
 * No gradient: the result is an index tensor.
 *
 * @param teacherMap - the teacher's layer4 map of one view, `[B,H,W,C]`, finite, `H*W >= 2`.
 * @returns int32 `[B,N]`, `N = H*W` row-major, indices into the same view; owned by the caller.
 */
export function mostDissimilarWithin(teacherMap: tf.Tensor4D): tf.Tensor2D {
  const { H, W } = assertShape(teacherMap, ['B', 'H', 'W', 'C'], 'teacherMap');
  const n = (H as number) * (W as number);
  if (n < 2) {
    throw new Error(
      `teacherMap must have at least 2 regions (H*W >= 2) to pick a different one, got H=${H}, W=${W}`,
    );
  }
  assertFiniteTensor(teacherMap, 'teacherMap');
  return tf.tidy(() => {
    const sim = pairwiseCosine(teacherMap, teacherMap);
    // cosines lie in [-1, 1]; +3 on the diagonal takes a region out of its own argmin.
    const masked = tf.add(sim, tf.mul(tf.eye(n), 3));
    return tf.cast(tf.argMin(masked, 2), 'int32') as tf.Tensor2D;
  });
}
