/**
 * Teacher-guided R-IEM partners: the most similar region of the other view (Eq. 6).
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertShapes } from '@ediy/core';
import { pairwiseCosine } from './cosine.js';
import { assertFiniteTensor } from './finite.js';

/**
 * Eq. 6, read across views: `S(j) = argmax_z cos(T_A[j], T_B[z])` over the regions of
 * view B. (Eq. 6 as printed compares a view with itself, where the argmax would be the
 * region itself; the text says "most similar regions in different augmented views".)
 * Ties go to the lowest index.
 *
 * No gradient: the result is an index tensor.
 *
 * @param teacherMapA - teacher layer4 map of the query view, `[B,H,W,C]`, finite.
 * @param teacherMapB - teacher layer4 map of the other view, `[B,H',W',C]`, finite.
 * @returns int32 `[B,N_A]` indices into B's `N_B = H'*W'` regions; owned by the caller.
 */
export function mostSimilarAcross(teacherMapA: tf.Tensor4D, teacherMapB: tf.Tensor4D): tf.Tensor2D {
  assertShapes([
    [teacherMapA, ['B', null, null, 'C'], 'teacherMapA'],
    [teacherMapB, ['B', null, null, 'C'], 'teacherMapB'],
  ]);
  assertFiniteTensor(teacherMapA, 'teacherMapA');
  assertFiniteTensor(teacherMapB, 'teacherMapB');
  return tf.tidy(
    () => tf.cast(tf.argMax(pairwiseCosine(teacherMapA, teacherMapB), 2), 'int32') as tf.Tensor2D,
  );
}
