/**
 * ResNet-18/34/50 (torchvision v1.5 layout) as a tfjs-layers functional model whose layer
 * names are torchvision's module names.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Rng } from '@ediy/core';
import { resolveResNetConfig } from './config.js';
import type { ResNetConfig, ResolvedResNetConfig } from './config.js';
import {
  batchNormalizationLayer,
  fastBatchNormalization,
  type BatchNormLayer,
} from './batchnorm.js';
import { fastConv2d } from './conv.js';
import { addReLU } from './add-relu.js';

/** How {@link resnet} builds a network, beside its architecture ({@link ResNetConfig}). */
export interface ResNetOptions {
  /**
   * The BatchNorm layer class: `'tfjs'` (default), tfjs-layers' `BatchNormalization`;
   * `'fast'`, {@link FastBatchNormalization} (same weights and results, faster to train on
   * CPU; a saved model then loads where `@ediy/backbones` is imported). See {@link BatchNormLayer}.
   */
  batchNormLayer?: BatchNormLayer;
  /**
   * Build each BatchNorm that a ReLU follows as one {@link FastBatchNormalization} layer
   * with `relu: true` (default false; needs `batchNormLayer: 'fast'`): the same weights,
   * outputs and gradients, with the ReLU computed in the BatchNorm's own kernel calls on
   * the native engine (two kernel calls and one pass over the map fewer each way), and
   * each block's residual sum and the ReLU after it as one {@link AddReLU} layer (one
   * kernel call and one pass over the map fewer forward). The ReLU layers after a
   * BatchNorm (`relu`, `layer1.0.relu1`, ...) and the sums (`layer1.0.add`) are then not in
   * the model; the block outputs (`layer1.0.relu`, the `AddReLU` layers) still are.
   */
  fuseReLU?: boolean;
  /**
   * The convolution layer class: `'tfjs'` (default), tfjs-layers' `Conv2D`, after a
   * `ZeroPadding2D` layer where PyTorch's symmetric padding is not TF's `'same'` (the
   * strided 3x3 convolutions, the 7x7 stem); `'fast'`, {@link FastConv2D}, which pads inside
   * the convolution (no `*.pad` layers: one copy of the map forward and a slice backward
   * fewer) and computes with `tf.conv2d`, so the stem's input gradient, which nothing
   * needs, is not computed. The same weights under the same names; outputs and gradients
   * equal to float32 rounding (the padded convolutions may sum in another order).
   */
  convLayer?: ConvLayer;
}

/** Which convolution layer a network is built with (see {@link ResNetOptions.convLayer}). */
export type ConvLayer = 'tfjs' | 'fast';

/**
 * BatchNormalization epsilon, as PyTorch's default.
 */
export const BN_EPSILON = 1e-5;

/**
 * Keras-convention BatchNormalization momentum (weight of the old moving statistic):
 * 0.9, which is PyTorch's default `momentum=0.1` (weight of the new batch statistic).
 */
export const BN_MOMENTUM = 0.9;

/**
 * The standard deviation of a normal truncated at two standard deviations is 0.8796 times
 * that of the untruncated one; tfjs' `varianceScaling` draws truncated normals, so its
 * scale is divided by this squared to reach the variance of torchvision's
 * `kaiming_normal_(mode='fan_out', nonlinearity='relu')`, 2 / fan_out.
 */
const TRUNCATED_NORMAL_STD = 0.8796256610342398;

type Sym = SymbolicTensor;

function single(x: Sym | Sym[] | Tensor | Tensor[]): Sym {
  return x as Sym;
}

class Builder {
  private readonly rng: Rng;

  constructor(
    readonly config: ResolvedResNetConfig,
    private readonly batchNormLayer: BatchNormLayer,
    private readonly fuseReLU: boolean,
    private readonly convLayer: ConvLayer,
  ) {
    this.rng = new Rng(config.seed);
  }

  /**
   * A conv without bias; `pad` > 0 pads symmetrically: TF's `'same'` where that is the
   * same (stride 1, odd kernel), else an explicit ZeroPadding2D first (the `FastConv2D`'s
   * own `pad` with `convLayer: 'fast'`).
   */
  conv(x: Sym, name: string, filters: number, kernel: number, stride: number, pad: number): Sym {
    let input = x;
    let padding: 'same' | 'valid' = 'valid';
    let explicit = 0;
    if (pad > 0 && stride === 1 && kernel === 2 * pad + 1) {
      // 'same' with stride 1 and an odd kernel is the symmetric padding PyTorch uses.
      padding = 'same';
    } else if (pad > 0 && this.convLayer === 'fast') {
      explicit = pad;
    } else if (pad > 0) {
      input = single(
        tfl.layers.zeroPadding2d({ padding: [pad, pad], name: `${name}.pad` }).apply(x),
      );
    }
    const args = {
      name,
      filters,
      kernelSize: kernel,
      strides: stride,
      padding,
      useBias: false,
      kernelInitializer: tfl.initializers.varianceScaling({
        scale: 2 / (TRUNCATED_NORMAL_STD * TRUNCATED_NORMAL_STD),
        mode: 'fanOut',
        distribution: 'normal',
        seed: this.rng.fork(name).seed(),
      }),
    };
    const layer =
      this.convLayer === 'fast' ? fastConv2d({ ...args, pad: explicit }) : tfl.layers.conv2d(args);
    return single(layer.apply(input));
  }

  bn(x: Sym, name: string): Sym {
    return single(
      batchNormalizationLayer(
        this.batchNormLayer,
        { name, axis: -1, momentum: BN_MOMENTUM, epsilon: BN_EPSILON },
        'resnet',
      ).apply(x),
    );
  }

  relu(x: Sym, name: string): Sym {
    return single(tfl.layers.reLU({ name }).apply(x));
  }

  /** A BatchNorm named `bnName` and the ReLU after it (one layer with `fuseReLU`). */
  bnRelu(x: Sym, bnName: string, reluName: string): Sym {
    if (!this.fuseReLU) return this.relu(this.bn(x, bnName), reluName);
    return single(
      fastBatchNormalization({
        name: bnName,
        axis: -1,
        momentum: BN_MOMENTUM,
        epsilon: BN_EPSILON,
        relu: true,
      }).apply(x),
    );
  }

  stem(x: Sym): Sym {
    const w = this.config.baseWidth;
    if (this.config.stem === 'imagenet') {
      let y = this.bnRelu(this.conv(x, 'conv1', w, 7, 2, 3), 'bn1', 'relu');
      y = single(tfl.layers.zeroPadding2d({ padding: [1, 1], name: 'maxpool.pad' }).apply(y));
      // Zero padding equals PyTorch's -inf padding here: the input is a ReLU output (>= 0).
      return single(
        tfl.layers
          .maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: 'maxpool' })
          .apply(y),
      );
    }
    return this.bnRelu(this.conv(x, 'conv1', w, 3, 1, 1), 'bn1', 'relu');
  }

  block(x: Sym, prefix: string, inChannels: number, width: number, stride: number): Sym {
    const out = width * this.config.expansion;
    let y: Sym;
    if (this.config.block === 'basic') {
      y = this.bnRelu(
        this.conv(x, `${prefix}.conv1`, width, 3, stride, 1),
        `${prefix}.bn1`,
        `${prefix}.relu1`,
      );
      y = this.bn(this.conv(y, `${prefix}.conv2`, width, 3, 1, 1), `${prefix}.bn2`);
    } else {
      y = this.bnRelu(
        this.conv(x, `${prefix}.conv1`, width, 1, 1, 0),
        `${prefix}.bn1`,
        `${prefix}.relu1`,
      );
      y = this.bnRelu(
        this.conv(y, `${prefix}.conv2`, width, 3, stride, 1),
        `${prefix}.bn2`,
        `${prefix}.relu2`,
      );
      y = this.bn(this.conv(y, `${prefix}.conv3`, out, 1, 1, 0), `${prefix}.bn3`);
    }
    let shortcut = x;
    if (stride !== 1 || inChannels !== out) {
      shortcut = this.bn(
        this.conv(x, `${prefix}.downsample.0`, out, 1, stride, 0),
        `${prefix}.downsample.1`,
      );
    }
    if (this.fuseReLU) {
      // The residual sum and its ReLU as one layer, named as the block output.
      return single(addReLU({ name: `${prefix}.relu` }).apply([y, shortcut]));
    }
    const sum = single(tfl.layers.add({ name: `${prefix}.add` }).apply([y, shortcut]));
    return this.relu(sum, `${prefix}.relu`);
  }
}

/**
 * Builds a ResNet (torchvision v1.5: in a bottleneck the stride is on the 3x3 conv) as a
 * standard tfjs-layers model with two outputs, `[map, pooled]`:
 * - `map` (`[B, h, w, C]`) is the layer4 feature map, one region per cell, with
 *   `C = featureChannels(config)` and `h = ceil(H / outputStride(config))`;
 * - `pooled` (`[B, C]`) is its global average (torchvision's `avgpool`, flattened).
 *
 * There is no classifier (`fc`). Convs have no bias; BatchNormalization has epsilon 1e-5 and
 * Keras momentum 0.9 (PyTorch's 0.1). Conv kernels are drawn with the variance of
 * torchvision's `kaiming_normal_(mode='fan_out')` from streams seeded by `config.seed` and
 * the layer name, so the same config gives the same weights; BN starts at gamma 1, beta 0.
 *
 * Layer names are torchvision's module names: a torchvision parameter `<module>.<param>`
 * lives in the tfjs layer `<module>` (`conv1`, `bn1`, `layer1.0.conv1`, `layer3.0.downsample.0`,
 * ...), see {@link torchvisionStateKeys}. Parameter-free layers get names of the form
 * `conv1.pad`, `maxpool.pad`, `maxpool`, `relu`, `layer2.0.conv1.pad` (explicit padding before a
 * strided conv, as PyTorch pads symmetrically and TF's `same` does not), `layer1.0.relu1`,
 * `layer1.0.add`, `layer1.0.relu` (the block output) and `avgpool`.
 *
 * BatchNormalization follows the tfjs-layers (Keras) semantics: `model.apply(x, {training: true})`
 * normalises with the batch statistics and updates the moving mean and variance in place;
 * `model.predict(x)` and `model.apply(x)` use the moving statistics. The moving variance is
 * updated with the biased batch variance (as Keras), where PyTorch uses the unbiased one.
 * `options.batchNormLayer: 'fast'` builds every BatchNorm as a {@link FastBatchNormalization}
 * (the trainer's choice), with the same weights and semantics; `options.fuseReLU` with it
 * folds each ReLU after a BatchNorm into that layer and each block's sum into its ReLU
 * (also the trainer's choice), so the model has no `relu`, `layer1.0.relu1` and
 * `layer1.0.add` layers (the block outputs remain);
 * `options.convLayer: 'fast'` builds every convolution as a {@link FastConv2D} (the trainer's
 * choice too), which pads inside itself, so the model has no `*.pad` layer before a conv.
 *
 * The returned model owns its weights: call `model.dispose()` when done.
 *
 * @example
 * ```ts
 * const model = resnet({ depth: 18, stem: 'small', widthMultiplier: 0.125 });
 * const [map, pooled] = model.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor[];
 * ```
 */
export function resnet(config: ResNetConfig, options: ResNetOptions = {}): LayersModel {
  const c = resolveResNetConfig(config);
  const batchNormLayer = options.batchNormLayer ?? 'tfjs';
  if (batchNormLayer !== 'tfjs' && batchNormLayer !== 'fast') {
    throw new RangeError(
      `resnet: options.batchNormLayer must be 'tfjs' or 'fast', got ${JSON.stringify(batchNormLayer)}`,
    );
  }
  const fuseReLU = options.fuseReLU ?? false;
  if (typeof fuseReLU !== 'boolean') {
    throw new RangeError(
      `resnet: options.fuseReLU must be a boolean, got ${JSON.stringify(fuseReLU)}`,
    );
  }
  if (fuseReLU && batchNormLayer !== 'fast') {
    throw new RangeError(
      `resnet: options.fuseReLU needs options.batchNormLayer 'fast' (the layer that computes the ReLU), got ${JSON.stringify(batchNormLayer)}`,
    );
  }
  const convLayer = options.convLayer ?? 'tfjs';
  if (convLayer !== 'tfjs' && convLayer !== 'fast') {
    throw new RangeError(
      `resnet: options.convLayer must be 'tfjs' or 'fast', got ${JSON.stringify(convLayer)}`,
    );
  }
  const b = new Builder(c, batchNormLayer, fuseReLU, convLayer);
  const input = tfl.input({ shape: c.inputShape, name: 'input', dtype: 'float32' });
  let x = b.stem(input);
  let channels = c.baseWidth;
  for (let stage = 0; stage < 4; stage++) {
    const width = c.baseWidth * 2 ** stage;
    const count = c.blocks[stage] as number;
    for (let i = 0; i < count; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      x = b.block(x, `layer${stage + 1}.${i}`, channels, width, stride);
      channels = width * c.expansion;
    }
  }
  const pooled = single(tfl.layers.globalAveragePooling2d({ name: 'avgpool' }).apply(x));
  return tfl.model({ inputs: input, outputs: [x, pooled], name: c.name });
}
