/**
 * The residual sum of a ResNet block and the ReLU after it as one op and one layer.
 *
 * tfjs computes `relu(a + b)` as two kernels, two passes over the map and a temporary the
 * size of the map. Where the backend registers {@link ADD_RELU_KERNEL} (ediy's native
 * engine) {@link addRelu} is one kernel call with the same bits; elsewhere it is
 * `tf.relu(tf.add(a, b))`. Its gradient is the ReLU's registered gradient given the op's
 * output, for both inputs (the sum passes its gradient through unchanged), so a model
 * trained with it gets the gradients of the two ops, bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * The kernel name of the fused sum and ReLU that ediy's native engine adds to tfjs
 * (`@ediy/backend`'s `ADD_RELU_KERNEL`, spelt alike: a test checks it): `{a, b}` (float32,
 * one shape) -> `max(0, a + b)`.
 */
export const ADD_RELU_KERNEL = 'EdiyAddRelu';

let gradientRegistered = false;

/**
 * Registers {@link ADD_RELU_KERNEL}'s gradient: `dy` masked by `step(y)` for both inputs,
 * computed by the `Relu` gradient registered now (tfjs's `dy * step(x)`, or the native
 * engine's one-pass kernel) given the output `y`; `step(y) = step(a + b)` for
 * `y = max(0, a + b)`, NaN kept. The mask is computed once and shared (the second input
 * gets a clone, which the tape disposes on its own).
 */
function registerAddReluGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: ADD_RELU_KERNEL,
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [y] = saved as [tf.Tensor];
      const relu = tf.getGradient('Relu');
      if (relu === undefined)
        throw new Error(`${ADD_RELU_KERNEL}: no gradient registered for Relu`);
      let masked: tf.Tensor | undefined;
      const mask = (): tf.Tensor => {
        if (masked === undefined || masked.isDisposed) {
          masked = relu.gradFunc(dy as tf.Tensor, [y], {}).x!() as tf.Tensor;
          return masked;
        }
        return tf.clone(masked);
      };
      return { a: mask, b: mask };
    },
  });
}

/**
 * `relu(a + b)`, in one kernel call where the backend registers {@link ADD_RELU_KERNEL}
 * (float32 tensors of one shape), else as tfjs's `tf.relu(tf.add(a, b))` (which also
 * broadcasts). The same values either way; differentiable.
 */
export function addRelu(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    tf.util.arraysEqual(a.shape, b.shape) &&
    tf.getKernel(ADD_RELU_KERNEL, tf.getBackend()) !== undefined
  ) {
    registerAddReluGradient();
    return tf.engine().runKernel(ADD_RELU_KERNEL, { a, b }) as tf.Tensor;
  }
  return tf.tidy(() => tf.relu(tf.add(a, b)));
}

/**
 * A layer of two inputs computing {@link addRelu}: tfjs-layers' `Add` and `ReLU` layers as
 * one (the same outputs and gradients, bit for bit). Its inputs must have one shape.
 * Registered with `tf.serialization` as `AddReLU`, so a model holding it saves and loads
 * in any program that imports `@ediy/backbones`.
 */
export class AddReLU extends tfl.layers.Layer {
  /** The class name in saved models. */
  static className = 'AddReLU';

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    const shapes = inputShape as tfl.Shape[];
    if (!Array.isArray(shapes[0]) || shapes.length !== 2) {
      throw new Error(
        `AddReLU '${this.name}': expected two inputs, got ${JSON.stringify(inputShape)}`,
      );
    }
    const [a, b] = shapes as [tfl.Shape, tfl.Shape];
    if (a.length !== b.length || a.some((d, i) => d !== null && b[i] !== null && d !== b[i])) {
      throw new Error(
        `AddReLU '${this.name}': the inputs must have one shape, got ${JSON.stringify(a)} and ${JSON.stringify(b)}`,
      );
    }
    return a;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) {
      throw new Error(
        `AddReLU '${this.name}': expected two tensors, got ${Array.isArray(inputs) ? inputs.length : 1}`,
      );
    }
    const [a, b] = inputs as [tf.Tensor, tf.Tensor];
    return addRelu(a, b);
  }
}
tf.serialization.registerClass(AddReLU, 'Ediy');

/** An {@link AddReLU} layer. */
export function addReLU(args: { name?: string } = {}): AddReLU {
  return new AddReLU(args);
}
