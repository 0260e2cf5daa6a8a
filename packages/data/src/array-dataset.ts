/**
 * A dataset held in memory as typed arrays: what the file loaders build, and what a user
 * can build from their own arrays.
 */
import { assertInteger } from '@ediy/core';
import { checkIndices } from './check.js';
import type { Dataset, DatasetBatch, ImageShape } from './types.js';

/** Options of {@link arrayDataset}. */
export interface ArrayDatasetOptions {
  /** Name used in error messages. */
  name: string;
  /**
   * Pixels, NHWC, `size*H*W*C` long: bytes (0-255, divided by 255 when read) or floats
   * in [0, 1]. Not copied: the dataset reads this array.
   */
  images: Uint8Array | Float32Array;
  /** `[H, W, C]` of each image. */
  imageShape: ImageShape;
  /** One label per image, in `[0, numClasses)`; or `-1` everywhere when `numClasses` is 0. */
  labels: Int32Array;
  /** Number of classes; `0` for unlabeled data. */
  numClasses: number;
  /** Optional class names, `numClasses` long. */
  classNames?: readonly string[];
  /** Optional per-pixel classes, `size*H*W` (0 = background, k+1 = class k). */
  masks?: Int32Array;
}

/**
 * Wraps typed arrays as a {@link Dataset}. Checks lengths and the range of every label
 * (and mask value) once, at construction.
 * @throws naming `options.name` and the array whose length or values are wrong.
 */
export function arrayDataset(options: ArrayDatasetOptions): Dataset {
  const { name, images, labels, imageShape, numClasses, masks } = options;
  const [h, w, c] = imageShape;
  assertInteger(h, 1, `${name}: imageShape[0] (H)`);
  assertInteger(w, 1, `${name}: imageShape[1] (W)`);
  assertInteger(c, 1, `${name}: imageShape[2] (C)`);
  assertInteger(numClasses, 0, `${name}: numClasses`);
  const pixels = h * w * c;
  const size = labels.length;
  if (images.length !== size * pixels) {
    throw new Error(
      `${name}: images must hold ${size} x ${h}x${w}x${c} = ${size * pixels} values (one image per label), got ${images.length}`,
    );
  }
  if (masks && masks.length !== size * h * w) {
    throw new Error(
      `${name}: masks must hold ${size} x ${h}x${w} = ${size * h * w} values, got ${masks.length}`,
    );
  }
  if (options.classNames && options.classNames.length !== numClasses) {
    throw new Error(
      `${name}: classNames must have numClasses=${numClasses} entries, got ${options.classNames.length}`,
    );
  }
  for (let i = 0; i < size; i++) {
    const y = labels[i] as number;
    const ok = numClasses === 0 ? y === -1 : y >= 0 && y < numClasses;
    if (!ok) {
      throw new RangeError(
        `${name}: label of image ${i} is ${y}, expected ${numClasses === 0 ? '-1 (unlabeled)' : `a class in [0, ${numClasses})`}`,
      );
    }
  }
  if (masks) {
    for (let i = 0; i < masks.length; i++) {
      const m = masks[i] as number;
      if (m < 0 || m > numClasses) {
        throw new RangeError(
          `${name}: mask value ${m} at offset ${i} must be in [0, ${numClasses}]`,
        );
      }
    }
  }
  if (images instanceof Float32Array) {
    for (let i = 0; i < images.length; i++) {
      const v = images[i] as number;
      if (!(v >= 0 && v <= 1)) {
        throw new RangeError(`${name}: pixel value ${v} at offset ${i} must be a number in [0, 1]`);
      }
    }
  }
  const scale = images instanceof Uint8Array ? 1 / 255 : 1;
  const dataset: Dataset = {
    name,
    size,
    imageShape: [h, w, c],
    numClasses,
    hasMasks: masks !== undefined,
    ...(options.classNames ? { classNames: options.classNames } : {}),
    get(indices: ArrayLike<number>): DatasetBatch {
      checkIndices(dataset, indices);
      const n = indices.length;
      const out = new Float32Array(n * pixels);
      const outLabels = new Int32Array(n);
      const outMasks = masks ? new Int32Array(n * h * w) : undefined;
      for (let i = 0; i < n; i++) {
        const k = indices[i] as number;
        const src = k * pixels;
        const dst = i * pixels;
        if (scale === 1) {
          out.set(images.subarray(src, src + pixels), dst);
        } else {
          for (let p = 0; p < pixels; p++) out[dst + p] = (images[src + p] as number) * scale;
        }
        outLabels[i] = labels[k] as number;
        if (outMasks && masks) outMasks.set(masks.subarray(k * h * w, (k + 1) * h * w), i * h * w);
      }
      return outMasks
        ? { images: out, labels: outLabels, masks: outMasks }
        : { images: out, labels: outLabels };
    },
  };
  return dataset;
}
