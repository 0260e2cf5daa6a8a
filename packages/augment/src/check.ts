/**
 * Input checks of the augmentation ops: image batches and per-image factor lists.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertShape, checkOnDevice } from '@ediy/core';

/**
 * Checks that `images` is a float32 [B,H,W,3] batch.
 * @returns the batch size, height and width.
 */
export function assertImageBatch(
  images: tf.Tensor,
  name = 'images',
): { B: number; H: number; W: number } {
  if (!(images instanceof tf.Tensor)) {
    throw new TypeError(`${name} must be a tf.Tensor4D [B,H,W,3], got ${String(images)}`);
  }
  const { B, H, W } = assertShape(images, ['B', 'H', 'W', 3], name) as {
    B: number;
    H: number;
    W: number;
  };
  if (B < 1 || H < 1 || W < 1) {
    throw new RangeError(
      `${name} must have at least one image of at least 1x1 pixels, got shape [${images.shape.join(',')}]`,
    );
  }
  if (images.dtype !== 'float32') {
    throw new TypeError(`${name} must have dtype float32 (values in [0, 1]), got ${images.dtype}`);
  }
  return { B, H, W };
}

/**
 * Checks that every value of `images` is a finite number in [0, 1], with one read of
 * three scalars (min, max, sum) from the backend (on a GPU backend inside a
 * `DeviceChecks` scope of `@ediy/core`, read later with the scope's other checks).
 */
export function assertUnitRange(images: tf.Tensor, name = 'images'): void {
  const stats = tf.tidy(() => tf.stack([tf.min(images), tf.max(images), tf.sum(images)]));
  checkOnDevice(stats, ([lo, hi, sum]) => {
    if (!Number.isFinite(sum)) {
      throw new RangeError(`${name} must contain finite values in [0, 1], found NaN or Infinity`);
    }
    if ((lo as number) < 0 || (hi as number) > 1) {
      throw new RangeError(`${name} must have values in [0, 1], got values in [${lo}, ${hi}]`);
    }
  });
}

/**
 * Turns `values` (one number per image, finite) into a [B,1,1,1] tensor that broadcasts
 * over an image batch.
 */
export function perImage(values: ArrayLike<number>, batch: number, name: string): tf.Tensor4D {
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
    throw new TypeError(
      `${name} must be an array of ${batch} numbers (one per image), got ${String(values)}`,
    );
  }
  if (values.length !== batch) {
    throw new RangeError(`${name} must have one number per image (${batch}), got ${values.length}`);
  }
  const data = Float32Array.from(values);
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw new RangeError(`${name}[${bad}] must be a finite number, got ${String(values[bad])}`);
  return tf.tensor4d(data, [batch, 1, 1, 1]);
}
