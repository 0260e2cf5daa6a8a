/**
 * Stop-gradient for tfjs, which has no such op.
 */
import * as tf from '@tensorflow/tfjs-core';

const identityWithoutGradient = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
  value: tf.clone(inputs[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
}));

/**
 * Returns a copy of `x` through which no gradient flows: the gradient of anything computed
 * from the result with respect to `x` is zero. tfjs has no `stopGradient` op (PyTorch's
 * `detach`, TF's `tf.stop_gradient`); this is an identity wrapped in `tf.customGrad` whose
 * gradient function returns zeros.
 *
 * Target-network outputs computed outside the gradient tape get no gradient anyway; the
 * losses still wrap their targets, so the rule holds whatever the caller does.
 *
 * @returns a new tensor (a copy of `x`) owned by the caller.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return identityWithoutGradient(x) as T;
}
