/**
 * torchvision's colour ops on [B,H,W,3] batches in [0, 1], each with a factor per image:
 * grayscale, brightness, contrast, saturation and solarize. Every function returns a new
 * tensor the caller owns and leaves its input alone.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInRange } from '@ediy/core';
import { assertImageBatch, perImage } from './check.js';

/** ITU-R BT.601 luma weights of R, G and B. */
export const LUMA_WEIGHTS = Object.freeze([0.299, 0.587, 0.114] as const);

/** The luma `0.299 R + 0.587 G + 0.114 B` (ITU-R BT.601) of each pixel, [B,H,W,1]. */
export function rgbToGrayscale(images: tf.Tensor4D): tf.Tensor4D {
  assertImageBatch(images);
  // a 1x1 convolution: one fast kernel on every backend, no slicing of the channel axis
  return tf.tidy(() => tf.conv2d(images, tf.tensor4d([...LUMA_WEIGHTS], [1, 1, 3, 1]), 1, 'valid'));
}

/** Grayscale with three equal channels: the luma of {@link rgbToGrayscale} repeated. */
export function grayscale(images: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.mul(rgbToGrayscale(images), tf.ones([1, 1, 1, 3])) as tf.Tensor4D);
}

/** torchvision's `_blend`: `clamp(f * a + (1 - f) * b, 0, 1)` with f [B,1,1,1]. */
function blend(a: tf.Tensor, b: tf.Tensor | number, f: tf.Tensor4D): tf.Tensor4D {
  return tf.clipByValue(tf.add(tf.mul(f, a), tf.mul(tf.sub(1, f), b)), 0, 1) as tf.Tensor4D;
}

/** Brightness: `clamp(f * x, 0, 1)`, one factor `f >= 0` per image. */
export function adjustBrightness(images: tf.Tensor4D, factors: ArrayLike<number>): tf.Tensor4D {
  const { B } = assertImageBatch(images);
  return tf.tidy(
    () =>
      tf.clipByValue(
        tf.mul(images, perImage(factors, B, 'brightness factors')),
        0,
        1,
      ) as tf.Tensor4D,
  );
}

/**
 * Contrast: `clamp(f * x + (1 - f) * m, 0, 1)` where `m` is the image's mean luma
 * (the mean of {@link rgbToGrayscale} over the image), one factor `f >= 0` per image.
 */
export function adjustContrast(images: tf.Tensor4D, factors: ArrayLike<number>): tf.Tensor4D {
  const { B } = assertImageBatch(images);
  return tf.tidy(() => {
    const mean = tf.mean(rgbToGrayscale(images), [1, 2, 3], true);
    return blend(images, mean, perImage(factors, B, 'contrast factors'));
  });
}

/**
 * Saturation: `clamp(f * x + (1 - f) * gray, 0, 1)` with `gray` the pixel's luma, one
 * factor `f >= 0` per image (0 gives grayscale, 1 the image).
 */
export function adjustSaturation(images: tf.Tensor4D, factors: ArrayLike<number>): tf.Tensor4D {
  const { B } = assertImageBatch(images);
  return tf.tidy(() =>
    blend(images, rgbToGrayscale(images), perImage(factors, B, 'saturation factors')),
  );
}

/** Solarize: every value `x >= threshold` becomes `1 - x`; smaller values are kept. */
export function solarize(images: tf.Tensor4D, threshold = 0.5): tf.Tensor4D {
  assertImageBatch(images);
  assertInRange(threshold, 0, 1, 'solarize threshold');
  return tf.tidy(
    () => tf.where(tf.greaterEqual(images, threshold), tf.sub(1, images), images) as tf.Tensor4D,
  );
}
