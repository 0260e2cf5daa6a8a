/**
 * Cosine similarity along the last axis, and the region layout of local features.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Norm below which a vector counts as zero, so its cosine with anything is 0. */
export const EPSILON = 1e-12;

/** `x / max(|x|, eps)` along the last axis (|x| as sqrt(sum(x^2)): tf.norm is ~10x slower on wasm). */
export function unit(x: tf.Tensor): tf.Tensor {
  return tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), -1, true)), EPSILON));
}

/**
 * `cos(a, b) = a·b / (max(|a|, eps) · max(|b|, eps))` along the last axis (broadcasting the
 * other axes). Differentiable; the caller wraps it in a tidy.
 */
export function cosine(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.sum(tf.mul(unit(a), unit(b)), -1);
}

/**
 * Local features as regions: `[B,H,W,C]` is read as `[B,N,C]`, `N = H*W` row-major;
 * `[B,N,C]` is taken as is. Any other rank throws, naming `name`.
 */
export function asRegions(t: tf.Tensor, name: string): tf.Tensor3D {
  if (t.rank === 3) return t as tf.Tensor3D;
  if (t.rank === 4) {
    const [b, h, w, c] = t.shape as [number, number, number, number];
    return tf.reshape(t, [b, h * w, c]);
  }
  throw new Error(`${name} must be [B,H,W,C] or [B,N,C], got shape [${t.shape.join(',')}]`);
}
