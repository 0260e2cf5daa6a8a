/**
 * R-INS pairing: another image of the batch (Table 1, "R-INS", DenseCL-style).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@ediy/core';

/**
 * For each image `i`, a uniformly random other image of the batch:
 * `(i + 1 + U{0..B-2}) mod B`, never `i` itself.
 *
 * @param batch - B, >= 2 (one image has no other image to contrast with).
 * @param rng - the seeded stream to draw from; it advances by `B` draws.
 * @returns int32 `[B]` image indices; owned by the caller.
 */
export function otherImage(batch: number, rng: Rng): tf.Tensor1D {
  if (!Number.isInteger(batch) || batch < 2) {
    throw new RangeError(
      `otherImage needs a batch of at least 2 images to pick another one, got batch=${String(batch)}`,
    );
  }
  const out = new Int32Array(batch);
  for (let i = 0; i < batch; i++) out[i] = (i + 1 + rng.int(batch - 1)) % batch;
  return tf.tensor1d(out, 'int32');
}
