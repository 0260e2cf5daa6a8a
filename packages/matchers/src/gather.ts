/**
 * A differentiable gather of regions that runs on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertShapes, checkOnDevice } from '@ediy/core';

/** Options of {@link gatherRegions}. */
export interface GatherRegionsOptions {
  /**
   * Check that every index lies in `[0, N)` (default true). This reads back two numbers
   * (on a GPU backend inside a `DeviceChecks` scope of `@ediy/core`, later, with the
   * scope's other checks); an out-of-range index would otherwise silently gather a zero vector.
   */
  checkRange?: boolean;
}

/**
 * `out[b, m] = features[b, indices[b, m]]`, differentiable with respect to `features`.
 *
 * Computed as a batched matmul with a one-hot matrix, `oneHot(indices) [B,M,N] @ features
 * [B,N,C]`, because `tf.gather`'s gradient needs UnsortedSegmentSum, which tfjs-backend-wasm
 * lacks. The cost is `O(B*M*N*C)` multiply-adds forward and the same again backward (a gather
 * is `O(B*M*C)`), which is small for region grids (`N <= 49` at 7x7); see `npm run bench`.
 *
 * @param features - `[B,N,C]` float.
 * @param indices - int32 `[B,M]`, each in `[0, N)`.
 * @returns a new `[B,M,C]` tensor owned by the caller.
 */
export function gatherRegions(
  features: tf.Tensor3D,
  indices: tf.Tensor2D,
  options: GatherRegionsOptions = {},
): tf.Tensor3D {
  const { N } = assertShapes([
    [features, ['B', 'N', 'C'], 'features'],
    [indices, ['B', 'M'], 'indices'],
  ]);
  const n = N as number;
  if (indices.dtype !== 'int32') throw new Error(`indices must be int32, got ${indices.dtype}`);
  if (options.checkRange ?? true) {
    const range = tf.tidy(() => tf.stack([tf.min(indices), tf.max(indices)]));
    const empty = indices.size === 0;
    checkOnDevice(range, ([lo, hi]) => {
      if (!empty && ((lo as number) < 0 || (hi as number) >= n)) {
        throw new RangeError(
          `indices must lie in [0, ${n}) (N = features.shape[1]), got values from ${lo} to ${hi}`,
        );
      }
    });
  }
  return tf.tidy(() => {
    // tf.oneHot needs depth >= 2 (with one region every index is 0), and tfjs-backend-wasm's
    // OneHot writes int32 whatever dtype is asked for, so it is built as int32 and cast.
    const hot =
      n === 1
        ? tf.ones([indices.shape[0], indices.shape[1], 1], 'int32')
        : tf.oneHot(indices, n, 1, 0, 'int32');
    return tf.matMul(tf.cast(hot, features.dtype) as tf.Tensor3D, features);
  });
}
