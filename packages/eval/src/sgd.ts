/**
 * The optimiser of the probes: SGD with Nesterov momentum, L2 weight decay and a
 * cosine learning-rate schedule (the linear-evaluation recipe of BYOL / MoCo).
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

/** One trainable parameter with its momentum buffer and weight decay. */
export interface SgdParam {
  /** The parameter. */
  value: tf.Variable;
  /** Momentum buffer, same shape. */
  velocity: tf.Variable;
  /** L2 weight decay added to the gradient (0 for biases). */
  weightDecay: number;
}

/** A zero-initialised parameter and its momentum buffer. */
export function sgdParam(shape: number[], weightDecay: number): SgdParam {
  const zeros = (): tf.Variable => tf.tidy(() => tf.variable(tf.zeros(shape)));
  return { value: zeros(), velocity: zeros(), weightDecay };
}

/**
 * One Nesterov step (PyTorch's form): g' = g + wd * w; v = mu * v + g';
 * w = w - lr * (g' + mu * v). Updates the variables in place; `grads` stay the caller's.
 */
export function sgdStep(
  params: SgdParam[],
  grads: tf.Tensor[],
  lr: number,
  momentum: number,
): void {
  tf.tidy(() => {
    params.forEach((p, i) => {
      const g0 = grads[i];
      if (!g0) throw new Error(`missing gradient for parameter ${i}`);
      const g = p.weightDecay > 0 ? tf.add(g0, tf.mul(p.value, p.weightDecay)) : g0;
      const v = tf.add(tf.mul(p.velocity, momentum), g);
      p.velocity.assign(v);
      p.value.assign(tf.sub(p.value, tf.mul(tf.add(g, tf.mul(v, momentum)), lr)));
    });
  });
}

/** Disposes the variables of `params`. */
export function disposeParams(params: SgdParam[]): void {
  for (const p of params) {
    p.value.dispose();
    p.velocity.dispose();
  }
}
