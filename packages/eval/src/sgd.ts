/**
 * The optimiser of the probes: tfjs's SGD with Nesterov momentum (`tf.train.momentum`),
 * coupled L2 weight decay and a cosine learning-rate schedule set step by step with
 * `setLearningRate` (the linear-evaluation recipe of BYOL / MoCo).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Learning rate at `step` of `totalSteps`: base * (1 + cos(pi * step / totalSteps)) / 2. */
export function cosineLearningRate(base: number, step: number, totalSteps: number): number {
  if (!(totalSteps >= 1) || !(step >= 0)) {
    throw new RangeError(
      `cosineLearningRate needs step >= 0 and totalSteps >= 1, got ${step}, ${totalSteps}`,
    );
  }
  return (base * (1 + Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps))) / 2;
}

/** A variable's gradient for {@link applyDecayedGradients}. */
export interface DecayedGradient {
  /** The variable (trainable). */
  variable: tf.Variable;
  /** Its gradient (stays the caller's). */
  gradient: tf.Tensor;
  /** L2 weight decay added to the gradient as `weightDecay * variable`; none when undefined. */
  weightDecay?: number;
}

/**
 * One optimiser step with coupled L2 weight decay (PyTorch's SGD `weight_decay`): each
 * gradient g becomes g + weightDecay * w before `optimizer.applyGradients`. With
 * `tf.train.momentum(lr, mu, true)` that is PyTorch's Nesterov step: v = mu v + g';
 * w -= lr (g' + mu v).
 */
export function applyDecayedGradients(optimizer: tf.Optimizer, grads: DecayedGradient[]): void {
  if (!(optimizer instanceof tf.Optimizer)) {
    throw new TypeError(`optimizer must be a tf.Optimizer, got ${String(optimizer)}`);
  }
  tf.tidy(() => {
    optimizer.applyGradients(
      grads.map(({ variable, gradient, weightDecay }) => {
        if (!(variable instanceof tf.Variable) || !(gradient instanceof tf.Tensor)) {
          throw new TypeError(`applyDecayedGradients needs a tf.Variable and a tf.Tensor gradient`);
        }
        return {
          name: variable.name,
          tensor:
            weightDecay === undefined ? gradient : tf.add(gradient, tf.mul(variable, weightDecay)),
        };
      }),
    );
  });
}

/**
 * Disposes a `tf.train.momentum` optimiser completely. `MomentumOptimizer.dispose`
 * (tfjs-core 4.22) frees its momentum and slots but not the learning-rate scalar its
 * `SGDOptimizer` base keeps; the base's dispose frees that one.
 */
export function disposeMomentum(optimizer: tf.MomentumOptimizer): void {
  optimizer.dispose();
  tf.SGDOptimizer.prototype.dispose.call(optimizer);
}
