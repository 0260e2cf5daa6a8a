/**
 * Tensor values as arrays that can be moved to another thread.
 */
import * as tf from '@tensorflow/tfjs-core';
import { runReads, runReadsAsync, type TensorReads } from '@ediy/core';

/**
 * The reads of {@link ownedValues} for several tensors at once (one batch of reads), to
 * run with `@ediy/core`'s `runReads` or `runReadsAsync`, or to delegate to with `yield*`.
 * The tensors stay the caller's.
 */
export function* ownedValuesReads(tensors: readonly tf.Tensor[]): TensorReads<Float32Array[]> {
  const wasm = tf.getBackend() === 'wasm';
  // clones share the values and are the runner's to dispose
  const values = (yield tensors.map((t) => tf.clone(t))) as Float32Array[];
  // wasm's read already returns a fresh copy of the heap; the cpu backend (and others)
  // return their own storage, which is copied
  return values.map((v) =>
    wasm && v.byteOffset === 0 && v.buffer.byteLength === v.byteLength ? v : v.slice(),
  );
}

/**
 * A Float32Array of `t`'s values that nothing else references, so its buffer can be
 * transferred: wasm's `dataSync` already returns a fresh copy of the heap; the cpu
 * backend returns its own storage, which is copied. Reads synchronously; on
 * tfjs-backend-webgpu in Node use {@link ownedValuesAsync}.
 */
export function ownedValues(t: tf.Tensor): Float32Array {
  return runReads(ownedValuesReads([t]))[0] as Float32Array;
}

/**
 * {@link ownedValues} of several tensors with one asynchronous batch of reads
 * (`await data()`), so it runs on every backend, webgpu in Node included: the same
 * values, each array the caller's alone.
 */
export function ownedValuesAsync(tensors: readonly tf.Tensor[]): Promise<Float32Array[]> {
  return runReadsAsync(ownedValuesReads(tensors));
}
