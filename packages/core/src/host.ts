/**
 * Host arrays (typed arrays with a shape) and the conversions every evaluation uses:
 * reading a tensor or host array into a validated typed array, and checking labels;
 * computations that read tensors written once and run synchronously or asynchronously
 * ({@link TensorReads}).
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
  /** The values (read from a tensor, the same array for host arrays); do not modify. */
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
 * A computation that reads tensors, written once and run either synchronously
 * ({@link runReads}: `dataSync()`, as on the CPU backends) or asynchronously
 * ({@link runReadsAsync}: `await data()`, the only read tfjs-backend-webgpu has in Node).
 * It is a generator: it yields the tensors it needs read, which it gives up (the runner
 * disposes them once read), and gets back their values in the same order. Both runners
 * read the same tensors in the same order, so they give the same result. Never yield from
 * inside `tf.tidy`: return the tensors out of it and yield them.
 */
export type TensorReads<R> = Generator<readonly tf.Tensor[], R, tf.TypedArray[]>;

function disposeAndStop<R>(reads: TensorReads<R>, tensors: readonly tf.Tensor[]): void {
  tf.dispose(tensors as tf.Tensor[]);
  // runs the generator's finally blocks (they free its tensors); the read's error is thrown
  reads.return(undefined as never);
}

/**
 * Runs `reads` reading each yielded tensor with `dataSync()`.
 * @returns what the computation returns.
 */
export function runReads<R>(reads: TensorReads<R>): R {
  let step = reads.next();
  while (!step.done) {
    const tensors = step.value;
    let values: tf.TypedArray[];
    try {
      values = tensors.map((t) => t.dataSync() as tf.TypedArray);
    } catch (err) {
      disposeAndStop(reads, tensors);
      throw err;
    }
    tf.dispose(tensors as tf.Tensor[]);
    step = reads.next(values);
  }
  return step.value;
}

/**
 * Runs `reads` reading each batch of yielded tensors with `await tensor.data()` (all of a
 * batch at once). Works on every backend, webgpu in Node included.
 * @returns what the computation returns.
 */
export async function runReadsAsync<R>(reads: TensorReads<R>): Promise<R> {
  let step = reads.next();
  while (!step.done) {
    const tensors = step.value;
    let values: tf.TypedArray[];
    try {
      values = (await Promise.all(tensors.map((t) => t.data()))) as tf.TypedArray[];
    } catch (err) {
      disposeAndStop(reads, tensors);
      throw err;
    }
    tf.dispose(tensors as tf.Tensor[]);
    step = reads.next(values);
  }
  return step.value;
}

function checkInput(x: unknown, name: string, what: string): void {
  if (x === null || typeof x !== 'object' || !('shape' in x)) {
    throw new TypeError(`${name} must be ${what}, got ${String(x)}`);
  }
}

/**
 * The reads of {@link readFloat} (for a tensor, one read of its values), to run with
 * {@link runReads} or {@link runReadsAsync} or to delegate to with `yield*`.
 */
export function* readFloatReads(
  x: FloatInput,
  pattern: ShapePattern,
  name: string,
  bound: Record<string, number> = {},
): TensorReads<FloatRead> {
  checkInput(x, name, 'a tf.Tensor or {data, shape}');
  const dims = assertShape({ shape: [...x.shape] }, pattern, name, bound);
  let data: Float32Array;
  if (x instanceof tf.Tensor) {
    if (x.dtype !== 'float32')
      throw new TypeError(`${name} must have dtype float32, got ${x.dtype}`);
    // a clone shares the values and is the runner's to dispose; `x` stays the caller's
    data = (yield [tf.clone(x)])[0] as Float32Array;
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
 * Reads a float tensor or host array into a Float32Array after checking its shape
 * against `pattern` and that every value is finite. Reads a tensor synchronously
 * (`dataSync()`); on tfjs-backend-webgpu in Node use {@link readFloatAsync}.
 * @returns the data (the tensor's values, or the same array for host arrays) and the
 *   sizes bound to the pattern's named dimensions.
 */
export function readFloat(
  x: FloatInput,
  pattern: ShapePattern,
  name: string,
  bound: Record<string, number> = {},
): FloatRead {
  return runReads(readFloatReads(x, pattern, name, bound));
}

/**
 * {@link readFloat} reading a tensor asynchronously (`await data()`): the same checks,
 * errors (as a rejection) and values, on every backend, webgpu in Node included.
 */
export function readFloatAsync(
  x: FloatInput,
  pattern: ShapePattern,
  name: string,
  bound: Record<string, number> = {},
): Promise<FloatRead> {
  return runReadsAsync(readFloatReads(x, pattern, name, bound));
}

/**
 * The reads of {@link readMask} (for a tensor, one read of its values), to run with
 * {@link runReads} or {@link runReadsAsync} or to delegate to with `yield*`.
 */
export function* readMaskReads(
  x: MaskInput,
  pattern: ShapePattern,
  numClasses: number,
  name: string,
  bound: Record<string, number> = {},
  ignoreLabel?: number,
): TensorReads<MaskRead> {
  checkInput(x, name, 'an int32 tf.Tensor or {data: Int32Array, shape}');
  const dims = assertShape({ shape: [...x.shape] }, pattern, name, bound);
  let data: Int32Array;
  if (x instanceof tf.Tensor) {
    if (x.dtype !== 'int32') throw new TypeError(`${name} must have dtype int32, got ${x.dtype}`);
    data = (yield [tf.clone(x)])[0] as Int32Array;
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

/**
 * Reads an int32 tensor or host array of class labels, checking shape and that each
 * value is an integer in [0, numClasses) or equal to `ignoreLabel`. Reads a tensor
 * synchronously; on tfjs-backend-webgpu in Node use {@link readMaskAsync}.
 */
export function readMask(
  x: MaskInput,
  pattern: ShapePattern,
  numClasses: number,
  name: string,
  bound: Record<string, number> = {},
  ignoreLabel?: number,
): MaskRead {
  return runReads(readMaskReads(x, pattern, numClasses, name, bound, ignoreLabel));
}

/**
 * {@link readMask} reading a tensor asynchronously (`await data()`): the same checks,
 * errors (as a rejection) and values, on every backend, webgpu in Node included.
 */
export function readMaskAsync(
  x: MaskInput,
  pattern: ShapePattern,
  numClasses: number,
  name: string,
  bound: Record<string, number> = {},
  ignoreLabel?: number,
): Promise<MaskRead> {
  return runReadsAsync(readMaskReads(x, pattern, numClasses, name, bound, ignoreLabel));
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
