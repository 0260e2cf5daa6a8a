/**
 * Batched crop, resize and flip: every image's box in one `tf.image.cropAndResize`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger } from '@ediy/core';
import type { CropBox } from './boxes.js';
import { assertCropBox } from './boxes.js';
import { assertImageBatch } from './check.js';

/** Distance, in pixels, from the outermost pixel centres below which the images are padded. */
const EDGE_MARGIN = 1e-3;

/**
 * Crops `boxes[i]` out of image `i`, resizes it bilinearly to `size x size` and mirrors
 * it left-right where `flipped[i]`, with the exact sampling documented on
 * {@link CropBox} (half-pixel centres, edge pixels repeated outside the outermost
 * centres, no antialiasing).
 *
 * Each box is passed to `cropAndResize` as the span from its first to its last sample
 * point (swapped left-right for a flip); when some sample points fall outside the
 * outermost pixel centres, the images are first padded by one repeated edge pixel.
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
    throw new RangeError(
      `boxes must have one CropBox per image (${B}), got ${Array.isArray(boxes) ? boxes.length : String(boxes)}`,
    );
  }
  if (!Array.isArray(flipped) || flipped.length !== B) {
    throw new RangeError(
      `flipped must have one boolean per image (${B}), got ${Array.isArray(flipped) ? flipped.length : String(flipped)}`,
    );
  }
  // first and last sample points of every box, in source pixel-index units (centre of
  // pixel r at r): y = y0 + (u + 0.5) * h / size - 0.5 for u = 0 and u = size - 1
  const ends = boxes.map((box, i) => {
    assertCropBox(box, `boxes[${i}]`, H, W);
    const bh = box.y1 - box.y0;
    const bw = box.x1 - box.x0;
    return [
      box.y0 - 0.5 + (0.5 * bh) / size,
      box.x0 - 0.5 + (0.5 * bw) / size,
      box.y0 - 0.5 + ((size - 0.5) * bh) / size,
      box.x0 - 0.5 + ((size - 0.5) * bw) / size,
    ] as const;
  });
  // Points left of the first or right of the last pixel centre take the edge value: pad by
  // one repeated edge pixel when some box has points there or within EDGE_MARGIN of it
  // (cropAndResize fills points its float32 arithmetic puts outside the image with 0).
  const outside = ([ys, xs, ye, xe]: readonly number[]) =>
    (ys as number) < EDGE_MARGIN ||
    (xs as number) < EDGE_MARGIN ||
    (ye as number) > H - 1 - EDGE_MARGIN ||
    (xe as number) > W - 1 - EDGE_MARGIN;
  const pad = ends.some(outside) ? 1 : 0;
  const sy = H - 1 + 2 * pad;
  const sx = W - 1 + 2 * pad;
  const coords = new Float32Array(4 * B);
  ends.forEach(([ys, xs, ye, xe], i) => {
    const flip = flipped[i] === true;
    coords.set(
      [
        (ys + pad) / sy,
        ((flip ? xe : xs) + pad) / sx,
        (ye + pad) / sy,
        ((flip ? xs : xe) + pad) / sx,
      ],
      4 * i,
    );
  });
  return tf.tidy(() => {
    const source = pad
      ? tf.mirrorPad(
          images,
          [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ],
          'symmetric',
        )
      : images;
    const boxTensor = tf.tensor2d(coords, [B, 4]);
    const index = tf.range(0, B, 1, 'int32') as tf.Tensor1D;
    return tf.image.cropAndResize(source, boxTensor, index, [size, size], 'bilinear');
  });
}
