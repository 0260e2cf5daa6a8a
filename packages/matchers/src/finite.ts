/**
 * A NaN/Infinity check for tensors whose values choose indices.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Throws if `t` holds NaN or +-Infinity: an argmin/argmax over such values would pick an
 * arbitrary region without any error. Reads back one boolean.
 */
export function assertFiniteTensor(t: tf.Tensor, name: string): void {
  const bad = tf.tidy(() => tf.any(tf.logicalNot(tf.isFinite(t))));
  const hasBad = (bad.dataSync()[0] ?? 0) !== 0;
  bad.dispose();
  if (hasBad)
    throw new Error(`${name} must hold only finite numbers, but it contains NaN or Infinity`);
}
