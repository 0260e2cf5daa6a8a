/**
 * A ResNet convolution layer that pads inside itself and lets tfjs skip unneeded gradients.
 *
 * tfjs-layers' `Conv2D` knows only TF's `'same'` and `'valid'` padding, so a strided
 * convolution with PyTorch's symmetric padding takes a `ZeroPadding2D` layer before it:
 * a copy of the map forward and a slice of its gradient backward. And it always computes
 * with `tf.fused.conv2d`, whose gradient (a custom gradient) computes the input gradient
 * even where nothing needs it, as for the stem's input image. {@link FastConv2D} takes the
 * padding as an explicit `pad` (tfjs's `conv2d` accepts explicit paddings, and so do its
 * backends' kernels) and computes with `tf.conv2d`, whose registered gradient computes
 * only what the tape asks for. Its weights are tfjs's `Conv2D`'s, under the same names.
 */
import * as tf from '@tensorflow/tfjs-core';
// Loaded for its registration of Conv2D (the class FastConv2D extends).
import '@tensorflow/tfjs-layers';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { registeredLayerClass } from './layer-class.js';

/** The fields of a tfjs-layers `Conv2D` layer that {@link FastConv2D} reads. */
interface ConvFields {
  kernel: LayerVariable;
  bias: LayerVariable | null;
  useBias: boolean;
  strides: number[];
  padding: 'valid' | 'same' | 'causal';
  dilationRate: number | number[];
  dataFormat: 'channelsLast' | 'channelsFirst';
  activation: { apply(x: tf.Tensor): tf.Tensor; getClassName(): string } | null;
}

/** tfjs-layers' `Conv2D` class (tfjs-layers exports a factory for it, not the class). */
function tfjsConv2DClass(): typeof tfl.layers.Layer {
  return registeredLayerClass('Conv2D', 'FastConv2D');
}

/** The arguments of {@link FastConv2D}: tfjs-layers' `Conv2D` arguments and `pad`. */
export type FastConv2DArgs = Parameters<typeof tfl.layers.conv2d>[0] & {
  /**
   * Zero rows and columns added on each side of the input before the convolution
   * (PyTorch's `padding=pad`), a whole number >= 0 (default 0). With `pad` > 0 the layer's
   * `padding` must be `'valid'` (its default then). Saved in the layer's configuration.
   */
  pad?: number;
};

/**
 * tfjs-layers' `Conv2D` with an explicit symmetric zero padding (`pad`, see
 * {@link FastConv2DArgs}) and computed with `tf.conv2d` (then the bias and the activation
 * as their own ops), so that its gradient computes the input gradient only where the tape
 * needs it. Outputs and gradients equal those of a `ZeroPadding2D` layer and a `Conv2D`
 * with the same weights up to float32 rounding (the convolution kernels may sum the same
 * products in another order when they pad). Registered with `tf.serialization` as
 * `FastConv2D`, so a model holding it saves and loads (in any program that imports
 * `@ediy/backbones`); its weights have tfjs's `Conv2D`'s names and shapes.
 */
export class FastConv2D extends tfjsConv2DClass() {
  /** The class name in saved models. */
  static className = 'FastConv2D';

  /** The zero padding added on each side of the input's rows and columns. */
  readonly pad: number;

  /** @param args - tfjs's Conv2D arguments and `pad`. */
  constructor(args: FastConv2DArgs) {
    const { pad = 0, ...rest } = args;
    if (typeof pad !== 'number' || !Number.isInteger(pad) || pad < 0) {
      throw new Error(`FastConv2D: pad must be a whole number >= 0, got ${JSON.stringify(pad)}`);
    }
    if (pad > 0 && rest.padding !== undefined && rest.padding !== 'valid') {
      throw new Error(
        `FastConv2D: pad ${pad} needs padding 'valid' (the explicit padding replaces it), got ${JSON.stringify(rest.padding)}`,
      );
    }
    if (rest.dataFormat !== undefined && rest.dataFormat !== 'channelsLast') {
      throw new Error(
        `FastConv2D: dataFormat must be 'channelsLast', got ${JSON.stringify(rest.dataFormat)}`,
      );
    }
    // tfjs's Conv2D constructor takes the arguments object alone (its rank is fixed).
    super(rest as unknown as ConstructorParameters<ReturnType<typeof tfjsConv2DClass>>[0]);
    this.pad = pad;
  }

  override getConfig(): tf.serialization.ConfigDict {
    // `pad` only when set, so a layer without it saves as tfjs's Conv2D's configuration does.
    return this.pad > 0 ? { ...super.getConfig(), pad: this.pad } : super.getConfig();
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const grow = (d: number | null) => (d === null ? null : d + 2 * this.pad);
    const padded =
      this.pad > 0 && shape.length === 4
        ? [shape[0] ?? null, grow(shape[1] ?? null), grow(shape[2] ?? null), shape[3] ?? null]
        : shape;
    return super.computeOutputShape(padded);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const conv = this as unknown as ConvFields;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!x || (Array.isArray(inputs) && inputs.length !== 1) || x.rank !== 4) {
      throw new Error(
        `FastConv2D '${this.name}': expected one [B,H,W,C] tensor, got ${
          Array.isArray(inputs)
            ? `${inputs.length} tensors`
            : `a tensor of shape [${x?.shape.join(',')}]`
        }`,
      );
    }
    return tf.tidy(() => {
      const p = this.pad;
      const pad: 'valid' | 'same' | [[0, 0], [number, number], [number, number], [0, 0]] =
        p > 0
          ? [
              [0, 0],
              [p, p],
              [p, p],
              [0, 0],
            ]
          : conv.padding === 'same'
            ? 'same'
            : 'valid';
      let y: tf.Tensor = tf.conv2d(
        x as tf.Tensor4D,
        conv.kernel.read() as tf.Tensor4D,
        conv.strides as [number, number],
        pad,
        'NHWC',
        conv.dilationRate as [number, number],
      );
      if (conv.useBias && conv.bias) y = tf.add(y, conv.bias.read());
      if (conv.activation) y = conv.activation.apply(y);
      return y;
    });
  }
}
tf.serialization.registerClass(FastConv2D, 'Ediy');

/**
 * A {@link FastConv2D} layer, as `tf.layers.conv2d(args)` makes tfjs's own (same
 * arguments and defaults, and `pad`).
 */
export function fastConv2d(args: FastConv2DArgs): FastConv2D {
  return new FastConv2D(args);
}

/** Whether `layer` is a 2-D convolution layer: tfjs-layers' `Conv2D` or a {@link FastConv2D}. */
export function isConv2D(layer: tfl.layers.Layer): boolean {
  const name = layer.getClassName();
  return name === 'Conv2D' || name === FastConv2D.className;
}
