/**
 * Applying an op to some images of a batch only, without leaving the backend.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Images `indices` of a batch, to be replaced by `op` of themselves. */
export interface ImageGroup {
  /** Distinct image indices in [0, B). */
  indices: readonly number[];
  /** The op; it gets [indices.length,H,W,C] and returns the same shape. */
  op: (images: tf.Tensor4D) => tf.Tensor4D;
}

/**
 * Replaces the images of each group (groups are disjoint) by the group's op of them;
 * the other images pass unchanged. One gather per group and one to reassemble.
 * Call inside `tf.tidy`; the result may be `images` itself when no group has images.
 */
export function applyToGroups(images: tf.Tensor4D, groups: readonly ImageGroup[]): tf.Tensor4D {
  const B = images.shape[0];
  const live = groups.filter((g) => g.indices.length > 0);
  if (live.length === 0) return images;
  const only = live[0] as ImageGroup;
  if (live.length === 1 && only.indices.length === B && only.indices.every((v, i) => v === i)) {
    return only.op(images);
  }
  const source = Int32Array.from({ length: B }, (_, i) => i);
  const parts: tf.Tensor4D[] = [images];
  let offset = B;
  for (const g of live) {
    // gatherND with [n,1] indices copies whole images (much faster than gather on wasm)
    const picked = tf.gatherND(
      images,
      tf.tensor2d(Int32Array.from(g.indices), [g.indices.length, 1], 'int32'),
    );
    parts.push(g.op(picked as tf.Tensor4D));
    g.indices.forEach((img, k) => {
      source[img] = offset + k;
    });
    offset += g.indices.length;
  }
  return tf.gatherND(tf.concat(parts, 0), tf.tensor2d(source, [B, 1], 'int32')) as tf.Tensor4D;
}
