/**
 * Cosine similarity between all pairs of regions of two maps.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertShapes } from '@ediy/core';

/** Norm below which a vector is treated as zero (its cosine with anything is 0). */
export const COSINE_EPSILON = 1e-12;

/**
 * Reads a map `[B,H,W,C]` as `[B,N,C]` with `N = H*W`, row-major (`n = h*W + w`).
 * A `[B,N,C]` tensor is returned as is (not a copy).
 */
export function flattenRegions(map: tf.Tensor, name = 'map'): tf.Tensor3D {
  if (map.rank === 3) return map as tf.Tensor3D;
  const { B, H, W, C } = assertShapes([[map, ['B', 'H', 'W', 'C'], name]]);
  return tf.reshape(map, [B as number, (H as number) * (W as number), C as number]);
}

/**
 * `sim[b, i, j] = a[b,i]·b[b,j] / (max(|a[b,i]|, eps) · max(|b[b,j]|, eps))`: the cosine
 * similarity of every region of `a` with every region of `b`, image by image.
 *
 * @param a - `[B,N,C]` or `[B,H,W,C]` (read row-major as `N = H*W` regions).
 * @param b - `[B,M,C]` or `[B,H',W',C]`.
 * @returns a new `[B,N,M]` tensor owned by the caller.
 */
export function pairwiseCosine(a: tf.Tensor, b: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const fa = flattenRegions(a, 'a');
    const fb = flattenRegions(b, 'b');
    assertShapes([
      [fa, ['B', null, 'C'], 'a (as [B,N,C])'],
      [fb, ['B', null, 'C'], 'b (as [B,M,C])'],
    ]);
    const unit = (x: tf.Tensor3D): tf.Tensor3D =>
      tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), -1, true)), COSINE_EPSILON));
    return tf.matMul(unit(fa), unit(fb), false, true);
  });
}
