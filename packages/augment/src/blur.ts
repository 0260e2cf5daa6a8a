/**
 * Separable Gaussian blur with a different sigma per image, batched as one depthwise
 * convolution whose channels are the (image, colour) pairs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger } from '@ediy/core';
import { assertImageBatch } from './check.js';

/**
 * The normalised 1-D Gaussian kernel of torchvision's `gaussian_blur`:
 * `k[t] = exp(-t^2 / (2 sigma^2)) / sum`, for `t = -radius .. radius`.
 */
export function gaussianKernel1d(sigma: number, radius: number): Float32Array {
  if (typeof sigma !== 'number' || !(sigma > 0) || !Number.isFinite(sigma)) {
    throw new RangeError(`blur sigma must be a finite number > 0, got ${String(sigma)}`);
  }
  assertInteger(radius, 0, 'blur radius');
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let t = -radius; t <= radius; t++) {
    const w = Math.exp(-0.5 * (t / sigma) ** 2);
    k[t + radius] = w;
    sum += w;
  }
  return Float32Array.from(k, (w) => w / sum);
}

/**
 * Blurs each image of a [B,H,W,3] batch with a separable Gaussian of its own sigma
 * (`sigmas[i]`, in pixels) and `2 * radius + 1` taps, padding by reflection (as
 * torchvision's `GaussianBlur`). `radius` must be below H and W; radius 0 copies.
 * @returns a new tensor the caller owns.
 */
export function gaussianBlur(
  images: tf.Tensor4D,
  sigmas: ArrayLike<number>,
  radius: number,
): tf.Tensor4D {
  const { B, H, W } = assertImageBatch(images);
  assertInteger(radius, 0, 'blur radius');
  if (sigmas === null || typeof sigmas !== 'object' || sigmas.length !== B) {
    throw new RangeError(
      `blur sigmas must have one number per image (${B}), got ${String(sigmas && sigmas.length)}`,
    );
  }
  if (radius >= H || radius >= W) {
    throw new RangeError(
      `blur radius must be below the image height and width (${H}x${W}) for reflect padding, got ${radius}`,
    );
  }
  const kernels = Array.from({ length: B }, (_, i) =>
    gaussianKernel1d(sigmas[i] as number, radius),
  );
  if (radius === 0 || B === 0) return tf.clone(images);
  const taps = 2 * radius + 1;
  const channels = B * 3;
  // filter[t, 0, i * 3 + c, 0] = kernels[i][t]
  const weights = new Float32Array(taps * channels);
  for (let t = 0; t < taps; t++) {
    for (let i = 0; i < B; i++) {
      const w = (kernels[i] as Float32Array)[t] as number;
      for (let c = 0; c < 3; c++) weights[t * channels + i * 3 + c] = w;
    }
  }
  return tf.tidy(() => {
    const vertical = tf.tensor4d(weights, [taps, 1, channels, 1]);
    const horizontal = tf.reshape(vertical, [1, taps, channels, 1]) as tf.Tensor4D;
    // [B,H,W,3] -> [1,H,W,B*3]: each (image, colour) is its own depthwise channel
    const planes = tf.reshape(tf.transpose(images, [1, 2, 0, 3]), [
      1,
      H,
      W,
      channels,
    ]) as tf.Tensor4D;
    const padV = tf.mirrorPad(
      planes,
      [
        [0, 0],
        [radius, radius],
        [0, 0],
        [0, 0],
      ],
      'reflect',
    );
    const blurV = tf.depthwiseConv2d(padV, vertical, 1, 'valid');
    const padH = tf.mirrorPad(
      blurV,
      [
        [0, 0],
        [0, 0],
        [radius, radius],
        [0, 0],
      ],
      'reflect',
    );
    const blurred = tf.depthwiseConv2d(padH, horizontal, 1, 'valid');
    return tf.transpose(tf.reshape(blurred, [H, W, B, 3]), [2, 0, 1, 3]) as tf.Tensor4D;
  });
}
