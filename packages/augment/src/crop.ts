/**
 * Batched crop, resize and flip: every image's box in one `tf.image.cropAndResize`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger } from '@ediy/backend';
import type { CropBox } from './boxes.js';
import { assertCropBox } from './boxes.js';
import { assertImageBatch } from './check.js';

/**
 * Crops `boxes[i]` out of image `i`, resizes it bilinearly to `size x size` and mirrors
 * it left-right where `flipped[i]`, with the exact sampling documented on
 * {@link CropBox} (half-pixel centres, edge pixels repeated outside the outermost
 * centres, no antialiasing).
 *
 * The images are padded by one repeated edge pixel so that every sample point lies
 * inside the padded image, and each box is passed to `cropAndResize` as the span from
 * its first to its last sample point (swapped left-right for a flip).
 *
 * @returns a new [B,size,size,3] tensor the caller owns.
 */
export function cropResizeFlip(
  images: tf.Tensor4D,
  boxes: readonly CropBox[],
  flipped: readonly boolean[],
  size: number,
): tf.Tensor4D {
  const { B, H, W } = assertImageBatch(images);
  assertInteger(size, 1, 'crop size');
  if (!Array.isArray(boxes) || boxes.length !== B) {
    throw new RangeError(`boxes must have one CropBox per image (${B}), got ${Array.isArray(boxes) ? boxes.length : String(boxes)}`);
  }
  if (!Array.isArray(flipped) || flipped.length !== B) {
    throw new RangeError(`flipped must have one boolean per image (${B}), got ${Array.isArray(flipped) ? flipped.length : String(flipped)}`);
  }
  const coords = new Float32Array(4 * B);
  boxes.forEach((box, i) => {
    assertCropBox(box, `boxes[${i}]`, H, W);
    // first and last sample points, in pixel-index units of the padded image
    // (source centre c sits at padded index c + 0.5)
    const ys = box.y0 + 0.5 + (0.5 * (box.y1 - box.y0)) / size;
    const ye = box.y0 + 0.5 + ((size - 0.5) * (box.y1 - box.y0)) / size;
    const xs = box.x0 + 0.5 + (0.5 * (box.x1 - box.x0)) / size;
    const xe = box.x0 + 0.5 + ((size - 0.5) * (box.x1 - box.x0)) / size;
    const flip = flipped[i] === true;
    coords.set([ys / (H + 1), (flip ? xe : xs) / (W + 1), ye / (H + 1), (flip ? xs : xe) / (W + 1)], 4 * i);
  });
  return tf.tidy(() => {
    const padded = tf.mirrorPad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], 'symmetric');
    const boxTensor = tf.tensor2d(coords, [B, 4]);
    const index = tf.range(0, B, 1, 'int32') as tf.Tensor1D;
    return tf.image.cropAndResize(padded, boxTensor, index, [size, size], 'bilinear');
  });
}
