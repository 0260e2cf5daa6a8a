/**
 * Host arrays (typed arrays with a shape) and the conversions every evaluation uses:
 * reading a tensor or host array into a validated typed array, and checking labels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertShape, type ShapePattern } from './validate.js';

/**
 * A dense row-major array on the JS heap with its shape (NHWC for images and maps).
 * Evaluation results that hold many numbers are returned in this form, so they
 * need no disposal.
 */
export interface HostArray<T extends Float32Array | Int32Array = Float32Array> {
  /** The values, row-major; `data.length` is the product of `shape`. */
  readonly data: T;
  /** The dimensions, e.g. `[n, C]` for features or `[n, h, w, C]` for maps. */
  readonly shape: readonly number[];
}

/** Float input: a tfjs tensor (never disposed by ediy) or a {@link HostArray}. */
export type FloatInput = tf.Tensor | HostArray;

/** Integer mask input: an int32 tensor (never disposed by ediy) or a {@link HostArray} of Int32. */
export type MaskInput = tf.Tensor | HostArray<Int32Array>;

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A validated float input, from {@link readFloat}. */
export interface FloatRead {
  /** The values (a copy for tensors, the same array for host arrays); do not modify. */
  data: Float32Array;
  /** Sizes bound to the pattern's named dimensions. */
  dims: Record<string, number>;
  /** The full shape. */
  shape: number[];
}

/** A validated label mask, from {@link readMask}. */
export interface MaskRead {
  /** The class ids; do not modify. */
  data: Int32Array;
  /** Sizes bound to the pattern's named dimensions. */
  dims: Record<string, number>;
}

/**
 * Reads a float tensor or host array into a Float32Array after checking its shape
 * against `pattern` and that every value is finite.
 * @returns the data (a copy for tensors, the same array for host arrays) and the
 *   sizes bound to the pattern's named dimensions.
 */
export function readFloat(
  x: FloatInput,
  pattern: ShapePattern,
  name: string,
  bound: Record<string, number> = {},
): FloatRead {
  if (x === null || typeof x !== 'object' || !('shape' in x)) {
    throw new TypeError(`${name} must be a tf.Tensor or {data, shape}, got ${String(x)}`);
  }
  const dims = assertShape({ shape: [...x.shape] }, pattern, name, bound);
  let data: Float32Array;
  if (x instanceof tf.Tensor) {
    if (x.dtype !== 'float32')
      throw new TypeError(`${name} must have dtype float32, got ${x.dtype}`);
    data = x.dataSync() as Float32Array;
  } else {
    if (!(x.data instanceof Float32Array)) {
      throw new TypeError(
        `${name}.data must be a Float32Array, got ${Object.prototype.toString.call(x.data)}`,
      );
    }
    if (x.data.length !== product(x.shape)) {
      throw new Error(
        `${name}.data has ${x.data.length} values but shape [${x.shape.join(',')}] needs ${product(x.shape)}`,
      );
    }
    data = x.data;
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new RangeError(
        `${name} must hold finite values, got ${String(data[i])} at flat index ${i}`,
      );
    }
  }
  return { data, dims, shape: [...x.shape] };
}

/**
 * Reads an int32 tensor or host array of class labels, checking shape and that each
 * value is an integer in [0, numClasses) or equal to `ignoreLabel`.
 */
export function readMask(
  x: MaskInput,
  pattern: ShapePattern,
  numClasses: number,
  name: string,
  bound: Record<string, number> = {},
  ignoreLabel?: number,
): MaskRead {
  if (x === null || typeof x !== 'object' || !('shape' in x)) {
    throw new TypeError(
      `${name} must be an int32 tf.Tensor or {data: Int32Array, shape}, got ${String(x)}`,
    );
  }
  const dims = assertShape({ shape: [...x.shape] }, pattern, name, bound);
  let data: Int32Array;
  if (x instanceof tf.Tensor) {
    if (x.dtype !== 'int32') throw new TypeError(`${name} must have dtype int32, got ${x.dtype}`);
    data = x.dataSync() as Int32Array;
  } else {
    if (!(x.data instanceof Int32Array)) {
      throw new TypeError(
        `${name}.data must be an Int32Array, got ${Object.prototype.toString.call(x.data)}`,
      );
    }
    if (x.data.length !== product(x.shape)) {
      throw new Error(
        `${name}.data has ${x.data.length} values but shape [${x.shape.join(',')}] needs ${product(x.shape)}`,
      );
    }
    data = x.data;
  }
  checkLabelValues(data, numClasses, name, ignoreLabel);
  return { data, dims };
}

function checkLabelValues(
  data: ArrayLike<number>,
  numClasses: number,
  name: string,
  ignoreLabel?: number,
): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v === ignoreLabel) continue;
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new RangeError(
        `${name} must hold integer class ids in [0, ${numClasses - 1}]` +
          (ignoreLabel === undefined ? '' : ` or ${ignoreLabel} (ignored)`) +
          `, got ${String(v)} at index ${i}`,
      );
    }
  }
}

/** Checks `n` class labels in [0, numClasses) and returns them as an Int32Array. */
export function readLabels(
  labels: ArrayLike<number>,
  n: number,
  numClasses: number,
  name: string,
): Int32Array {
  if (labels === null || typeof labels !== 'object' || typeof labels.length !== 'number') {
    throw new TypeError(`${name} must be an array of class ids, got ${String(labels)}`);
  }
  if (labels.length !== n) {
    throw new Error(`${name} must have one label per feature row (${n}), got ${labels.length}`);
  }
  checkLabelValues(labels, numClasses, name);
  return Int32Array.from(labels);
}

/**
 * The `i`-th item of a batch, e.g. one image `[H,W,C]` of images `[n,H,W,C]`, as a
 * host array that shares the batch's memory (no copy).
 */
export function batchItem<T extends Float32Array | Int32Array>(
  batch: HostArray<T>,
  i: number,
): HostArray<T> {
  const n = batch.shape[0];
  if (n === undefined || !Number.isInteger(i) || i < 0 || i >= n) {
    throw new RangeError(`batchItem index must be an integer in [0, ${(n ?? 0) - 1}], got ${i}`);
  }
  const rest = batch.shape.slice(1);
  const size = product(rest);
  return { data: batch.data.subarray(i * size, (i + 1) * size) as T, shape: rest };
}
