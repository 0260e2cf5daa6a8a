/**
 * Tensor values as arrays that can be moved to another thread.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * A Float32Array of `t`'s values that nothing else references, so its buffer can be
 * transferred: wasm's `dataSync` already returns a fresh copy of the heap; the cpu
 * backend returns its own storage, which is copied.
 */
export function ownedValues(t: tf.Tensor): Float32Array {
  const values = t.dataSync() as Float32Array;
  return tf.getBackend() === 'wasm' &&
    values.byteOffset === 0 &&
    values.buffer.byteLength === values.byteLength
    ? values
    : values.slice();
}
