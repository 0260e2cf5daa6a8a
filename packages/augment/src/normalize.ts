/**
 * Per-channel normalisation of image batches.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertImageBatch } from './check.js';
import type { NormalizeParams } from './params.js';

/**
 * `(x - mean[c]) / std[c]` per channel.
 * @returns a new tensor the caller owns.
 */
export function normalizeImages(images: tf.Tensor4D, params: NormalizeParams): tf.Tensor4D {
  assertImageBatch(images);
  const ok = (v: readonly number[], positive: boolean) =>
    Array.isArray(v) &&
    v.length === 3 &&
    v.every((x) => Number.isFinite(x) && (!positive || x > 0));
  if (!params || !ok(params.mean, false) || !ok(params.std, true)) {
    throw new RangeError(
      `normalize must be {mean: [r, g, b], std: [r, g, b] > 0}, got ${JSON.stringify(params)}`,
    );
  }
  return tf.tidy(
    () =>
      tf.div(
        tf.sub(images, tf.tensor1d([...params.mean])),
        tf.tensor1d([...params.std]),
      ) as tf.Tensor4D,
  );
}
