/**
 * A NaN/Infinity check for tensors whose values choose indices.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkOnDevice } from '@ediy/core';

/**
 * Throws if `t` holds NaN or +-Infinity: an argmin/argmax over such values would pick an
 * arbitrary region without any error. Reads back one boolean (on a GPU backend inside a
 * `DeviceChecks` scope of `@ediy/core`, later, with the scope's other checks).
 */
export function assertFiniteTensor(t: tf.Tensor, name: string): void {
  const bad = tf.tidy(() => tf.any(tf.logicalNot(tf.isFinite(t))));
  checkOnDevice(bad, (values) => {
    if ((values[0] ?? 0) !== 0)
      throw new Error(`${name} must hold only finite numbers, but it contains NaN or Infinity`);
  });
}
