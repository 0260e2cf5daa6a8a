/**
 * BatchNorm for training on the wasm backend without its slow paths, as a tfjs-layers
 * layer class. tfjs-layers normalises a batch with `tf.moments` and `tf.batchNorm`, and
 * differentiates through both: the gradient of `FusedBatchNorm` tiles the inverse
 * deviation to the input's full shape (wasm's `Tile` takes ~200 ms for a [64,32,32,32]
 * map), and the moments' gradients broadcast and reduce over non-innermost axes (a
 * transpose each). Here the per-channel means are one average pooling over all rows, the
 * per-channel affine maps one 1x1 depthwise convolution with bias, and the backward pass
 * is the closed form of BatchNorm's gradient; where the backend registers ediy's native
 * BatchNorm kernels ({@link BATCH_NORM_KERNELS}), the statistics, the normalisation and
 * the gradient are one kernel call each. The normalisation, the moving statistics and
 * their update are those of tfjs-layers' `BatchNormalization` (biased batch variance).
 *
 * NaN does not propagate through these kernels on wasm: average pooling and the fused
 * depthwise convolution return -Infinity for a NaN input (a following ReLU makes it 0).
 * A caller that must notice non-finite values checks inputs and weights itself (the
 * trainer does, for every image batch, gradient, checkpoint and teacher).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerVariable, LayersModel } from '@tensorflow/tfjs-layers';
import { registeredLayerClass } from './layer-class.js';

/**
 * Names of the BatchNorm kernels ediy's native engine adds to tfjs (`@ediy/backend`'s
 * `BATCH_NORM_KERNELS`, spelt alike: a test checks it); where the current backend does
 * not register them, {@link batchNormTraining} computes the same with tfjs ops.
 */
export const BATCH_NORM_KERNELS = {
  /** `{x}` (channels last, rank >= 2) -> `[mean, variance]`, both `[C]`, the variance biased. */
  moments: 'EdiyChannelMoments',
  /**
   * `{dy, x, mean, invStd, gamma}` -> `[dx, sumDy, sumDyXhat]`; with the input `y` (a
   * following ReLU's output) `dy * step(y)` in place of `dy`.
   */
  gradient: 'EdiyBatchNormGrad',
  /**
   * `{x, gamma, beta}` with attribute `epsilon` -> `[y, mean, variance, invStd]`; with the
   * attribute `relu: true`, `y` is the ReLU of the normalised input.
   */
  forward: 'EdiyBatchNormForward',
} as const;

/** What {@link batchNormTraining} returns; the caller owns every tensor of it. */
export interface BatchNormTrainingResult {
  /** The normalised, scaled and shifted input (same shape as `x`), its ReLU with `options.relu`. */
  y: tf.Tensor;
  /** The per-channel batch mean `[C]`. */
  mean: tf.Tensor1D;
  /** The per-channel biased batch variance `[C]`. */
  variance: tf.Tensor1D;
  /** The updated moving mean `[C]`, when {@link MovingStatistics} were given. */
  movingMean?: tf.Tensor1D;
  /** The updated moving variance `[C]`, when {@link MovingStatistics} were given. */
  movingVariance?: tf.Tensor1D;
}

/** Options of {@link batchNormTraining}. */
export interface BatchNormTrainingOptions {
  /** Return the ReLU of the normalised input (default false). */
  relu?: boolean;
}

/**
 * The moving statistics {@link batchNormTraining} updates with the batch's, as
 * tfjs-layers' `BatchNormalization` does:
 * `moving - (moving - batch) * (1 - momentum)`, for the mean and the variance.
 */
export interface MovingStatistics {
  /** The moving mean `[C]` (read, not changed). */
  mean: tf.Tensor1D;
  /** The moving variance `[C]` (read, not changed). */
  variance: tf.Tensor1D;
  /** The momentum, a finite number (tfjs-layers' default 0.99). */
  momentum: number;
}

/**
 * `x * scale + shift` along the last axis of `x` (any rank >= 2), in one pass; with
 * `relu: true` its ReLU, as the fused depthwise convolution's activation (one pass too where
 * tfjs fuses it: without a gradient tape; under one, tfjs applies the ReLU as its own op).
 */
export function channelAffine(
  x: tf.Tensor,
  scale: tf.Tensor1D,
  shift: tf.Tensor1D,
  relu = false,
): tf.Tensor {
  return tf.tidy(() => {
    const c = x.shape[x.rank - 1] as number;
    const x4 = tf.reshape(x, [1, 1, x.size / c, c]) as tf.Tensor4D;
    const filter = tf.reshape(scale, [1, 1, c, 1]) as tf.Tensor4D;
    const out = tf.fused.depthwiseConv2d({
      x: x4,
      filter,
      strides: 1,
      pad: 'valid',
      bias: shift,
      ...(relu ? { activation: 'relu' as const } : {}),
    });
    return tf.reshape(out, x.shape);
  });
}

/**
 * Means of `x` over every axis but the last: `[C]`. One average pooling over a window
 * of all N rows (no transpose, nothing packed; a matrix product with a row of ones
 * packs its N x C operand first, ~15x slower on wasm for a fresh [64,32,32,32] map).
 */
export function channelMeans(x: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const c = x.shape[x.rank - 1] as number;
    const n = x.size / c;
    return tf.reshape(tf.avgPool(tf.reshape(x, [1, n, 1, c]) as tf.Tensor4D, [n, 1], 1, 'valid'), [
      c,
    ]);
  });
}

/**
 * Batch normalisation over every axis but the last, as in training, with the closed-form
 * gradient: for `xhat = (x - mean) / sqrt(var + eps)` over the `N` values of a channel,
 * `dx = gamma / sqrt(var + eps) * (dy - mean(dy) - xhat * mean(dy * xhat))`,
 * `dgamma = sum(dy * xhat)`, `dbeta = sum(dy)`.
 * @param x - input of rank >= 2, channels last.
 * @param gamma - scale `[C]`.
 * @param beta - shift `[C]`.
 * @param epsilon - added to the variance.
 * @param moving - moving statistics to update as well: where the backend registers the
 * native forward kernel, in the same kernel call (no kernel call of its own, nothing on
 * the gradient tape), else with tfjs ops.
 * @param options - `relu: true` returns `relu(y)`, the ReLU after the BatchNorm: where the
 * backend registers the native forward kernel, computed in its pass over the map and
 * differentiated in the BatchNorm gradient's call (the same values and gradients as
 * `tf.relu` of `y`, two kernel calls and one pass over the map fewer each way), else with
 * `tf.relu`.
 * @returns new tensors owned by the caller.
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  moving?: MovingStatistics,
  options: BatchNormTrainingOptions = {},
): BatchNormTrainingResult {
  if (x.rank < 2)
    throw new Error(
      `batchNormTraining: x must have rank >= 2 (channels last), got shape [${x.shape.join(',')}]`,
    );
  const c = x.shape[x.rank - 1] as number;
  if (gamma.size !== c || beta.size !== c) {
    throw new Error(
      `batchNormTraining: gamma and beta must have ${c} values (x's channels), got ${gamma.size} and ${beta.size}`,
    );
  }
  if (moving !== undefined) {
    if (moving.mean.size !== c || moving.variance.size !== c) {
      throw new Error(
        `batchNormTraining: the moving mean and variance must have ${c} values (x's channels), got ${moving.mean.size} and ${moving.variance.size}`,
      );
    }
    if (!Number.isFinite(moving.momentum)) {
      throw new Error(
        `batchNormTraining: the momentum must be a finite number, got ${moving.momentum}`,
      );
    }
  }
  const relu = options.relu ?? false;
  if (typeof relu !== 'boolean') {
    throw new Error(`batchNormTraining: options.relu must be a boolean, got ${String(relu)}`);
  }
  const n = x.size / c;
  const backend = tf.getBackend();
  const native =
    tf.getKernel(BATCH_NORM_KERNELS.moments, backend) !== undefined &&
    tf.getKernel(BATCH_NORM_KERNELS.gradient, backend) !== undefined;
  // The ReLU inside the kernels' calls, or after them as its own op.
  const fusedRelu =
    relu && native && tf.getKernel(BATCH_NORM_KERNELS.forward, backend) !== undefined;
  // The statistics are computed inside the custom-gradient function, so the tape keeps
  // none of their intermediates; they leave it through `stats` (kept, owned by the caller).
  let stats: [tf.Tensor1D, tf.Tensor1D] | undefined;
  // The moving statistics' update, where the forward kernel computed it.
  let movingOut: [tf.Tensor1D, tf.Tensor1D] | undefined;
  const normalise = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, g, b, save] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    if (native) return nativeNormalise(input, g, b, save);
    const mean = channelMeans(input);
    const xc = channelAffine(input, tf.onesLike(mean), tf.neg(mean));
    const variance = channelMeans(tf.square(xc));
    stats = [tf.keep(mean), tf.keep(variance)];
    const invStd = tf.rsqrt(tf.add(variance, epsilon)) as tf.Tensor1D;
    const k = tf.mul(g, invStd) as tf.Tensor1D;
    save([xc, k, invStd]);
    return {
      value: channelAffine(xc, k, b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xcs, ks, inv] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
        const meanDy = channelMeans(dy);
        const meanDyXc = channelMeans(tf.mul(dy, xcs));
        // dx = k * dy + a * xc + shift, with a = -k * inv^2 * mean(dy * xc) and shift = -k * mean(dy)
        const a = tf.mul(tf.neg(ks), tf.mul(tf.square(inv), meanDyXc)) as tf.Tensor1D;
        const shift = tf.mul(tf.neg(ks), meanDy) as tf.Tensor1D;
        const dx = tf.add(
          channelAffine(dy, ks, shift),
          channelAffine(xcs, a, tf.zerosLike(a) as tf.Tensor1D),
        );
        return [dx, tf.mul(tf.mul(meanDyXc, inv), n), tf.mul(meanDy, n)];
      },
    };
  });
  // The same with the engine's kernels: the statistics and the normalisation in one call
  // where the forward kernel is registered (else the statistics in one call and one affine
  // pass of x itself; nothing the size of x is saved but x), and the whole gradient one call.
  function nativeNormalise(
    input: tf.Tensor,
    g: tf.Tensor1D,
    b: tf.Tensor1D,
    save: tf.GradSaveFunc,
  ): { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] } {
    let value: tf.Tensor;
    let mean: tf.Tensor1D;
    let invStd: tf.Tensor1D;
    if (tf.getKernel(BATCH_NORM_KERNELS.forward, backend) !== undefined) {
      // Statistics, invStd, the affine pass and the moving statistics in one kernel call.
      let variance: tf.Tensor1D;
      const outs = tf.engine().runKernel(
        BATCH_NORM_KERNELS.forward,
        moving === undefined
          ? { x: input, gamma: g, beta: b }
          : {
              x: input,
              gamma: g,
              beta: b,
              movingMean: moving.mean,
              movingVariance: moving.variance,
            },
        moving === undefined
          ? { epsilon, relu: fusedRelu }
          : { epsilon, momentum: moving.momentum, relu: fusedRelu },
      ) as unknown as tf.Tensor[];
      [value, mean, variance, invStd] = outs as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
      stats = [tf.keep(mean), tf.keep(variance)];
      if (moving !== undefined) {
        movingOut = [tf.keep(outs[4] as tf.Tensor1D), tf.keep(outs[5] as tf.Tensor1D)];
      }
    } else {
      let variance: tf.Tensor1D;
      [mean, variance] = tf
        .engine()
        .runKernel(BATCH_NORM_KERNELS.moments, { x: input }) as unknown as [
        tf.Tensor1D,
        tf.Tensor1D,
      ];
      stats = [tf.keep(mean), tf.keep(variance)];
      invStd = tf.rsqrt(tf.add(variance, epsilon)) as tf.Tensor1D;
      const k = tf.mul(g, invStd) as tf.Tensor1D;
      value = channelAffine(input, k, tf.sub(b, tf.mul(mean, k)) as tf.Tensor1D);
    }
    // With the fused ReLU its output is saved too: the gradient masks dy by step(output).
    save(fusedRelu ? [input, mean, invStd, g, value] : [input, mean, invStd, g]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, m, inv, gs, ys] = saved as [
          tf.Tensor,
          tf.Tensor1D,
          tf.Tensor1D,
          tf.Tensor1D,
          tf.Tensor | undefined,
        ];
        const gradInputs: tf.NamedTensorMap = { dy, x: xs, mean: m, invStd: inv, gamma: gs };
        if (ys !== undefined) gradInputs.y = ys;
        const [dx, sumDy, sumDyXhat] = tf
          .engine()
          .runKernel(BATCH_NORM_KERNELS.gradient, gradInputs) as unknown as [
          tf.Tensor,
          tf.Tensor1D,
          tf.Tensor1D,
        ];
        return [dx, sumDyXhat, sumDy];
      },
    };
  }
  const y = tf.tidy(() => {
    const normalised = normalise(x, gamma, beta);
    return relu && !fusedRelu ? tf.relu(normalised) : normalised;
  });
  const [mean, variance] = stats as [tf.Tensor1D, tf.Tensor1D];
  if (moving === undefined) return { y, mean, variance };
  const [movingMean, movingVariance] =
    movingOut ??
    tf.tidy(
      () =>
        [moving.mean, moving.variance].map((old, i) =>
          tf.sub(old, tf.mul(tf.sub(old, i === 0 ? mean : variance), 1 - moving.momentum)),
        ) as [tf.Tensor1D, tf.Tensor1D],
    );
  return { y, mean, variance, movingMean, movingVariance };
}

/** The arguments of tfjs-layers' `BatchNormalization` (and of {@link FastBatchNormalization}). */
export type BatchNormalizationArgs = NonNullable<
  Parameters<typeof tfl.layers.batchNormalization>[0]
>;

/**
 * The arguments of {@link FastBatchNormalization}: tfjs-layers' `BatchNormalization`'s,
 * and `relu`.
 */
export type FastBatchNormalizationArgs = BatchNormalizationArgs & {
  /**
   * Output the ReLU of the normalised input (default false): a BatchNorm layer and the
   * ReLU layer after it as one layer, with the same outputs and gradients, computed in the
   * BatchNorm's own kernel calls where the backend registers ediy's native ones
   * ({@link batchNormTraining}'s `relu`). Saved in the layer's configuration.
   */
  relu?: boolean;
};

/**
 * Which BatchNorm layer a network is built with: `'tfjs'`, tfjs-layers' own
 * `BatchNormalization`; `'fast'`, {@link FastBatchNormalization} (the same weights and
 * results, faster to train on CPU, and saved under its own class name, so a saved model
 * loads where `@ediy/backbones` is imported).
 */
export type BatchNormLayer = 'tfjs' | 'fast';

/** The fields of a tfjs-layers `BatchNormalization` layer that {@link FastBatchNormalization} reads. */
interface BatchNormFields {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: LayerVariable;
  beta: LayerVariable;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
}

/**
 * tfjs-layers' `BatchNormalization` class, as tfjs registered it for deserialisation
 * (tfjs-layers exports a factory for it, not the class).
 */
function tfjsBatchNormalizationClass(): typeof tfl.layers.Layer {
  return registeredLayerClass('BatchNormalization', 'FastBatchNormalization');
}

/**
 * tfjs-layers' `BatchNormalization` with a faster computation on CPU backends: the same
 * constructor arguments (and `relu`, see {@link FastBatchNormalizationArgs}), configuration, weights (`gamma`, `beta`, `moving_mean`,
 * `moving_variance`, in that order, with tfjs's names and shapes) and moving-statistics
 * update (`moving = moving - (moving - batch) * (1 - momentum)`, biased batch variance).
 * In training mode (`apply(x, { training: true })`) it normalises with
 * {@link batchNormTraining}; in inference mode it is one per-channel affine map
 * ({@link channelAffine}) of the moving statistics. A layer without centre or scale,
 * normalising another axis than the last, or given anything but one tensor of rank >= 2
 * computes as tfjs's `BatchNormalization`. Registered with `tf.serialization` as
 * `FastBatchNormalization`, so a model holding it saves and loads (in any program that
 * imports `@ediy/backbones`); its weights are read and written under the same names as
 * tfjs's (checkpoints, safetensors and torchvision weights do not tell them apart).
 */
export class FastBatchNormalization extends tfjsBatchNormalizationClass() {
  /** The class name in saved models. */
  static className = 'FastBatchNormalization';

  /** Whether the layer's output is the ReLU of the normalised input ({@link FastBatchNormalizationArgs}). */
  readonly relu: boolean;

  /** @param args - tfjs's BatchNormalization arguments and `relu`. */
  constructor(args: FastBatchNormalizationArgs = {}) {
    const { relu = false, ...rest } = args;
    if (typeof relu !== 'boolean') {
      throw new Error(`FastBatchNormalization: relu must be a boolean, got ${String(relu)}`);
    }
    super(rest as ConstructorParameters<ReturnType<typeof tfjsBatchNormalizationClass>>[0]);
    this.relu = relu;
  }

  override getConfig(): tf.serialization.ConfigDict {
    // `relu` only when set, so a layer without it saves as before.
    return this.relu ? { ...super.getConfig(), relu: true } : super.getConfig();
  }

  override call(
    inputs: tf.Tensor | tf.Tensor[],
    kwargs: Record<string, unknown>,
  ): tf.Tensor | tf.Tensor[] {
    const bn = this as unknown as BatchNormFields;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (
      !x ||
      (Array.isArray(inputs) && inputs.length !== 1) ||
      x.rank < 2 ||
      (bn.axis !== -1 && bn.axis !== x.rank - 1) ||
      !bn.center ||
      !bn.scale
    ) {
      const out = super.call(inputs, kwargs);
      return this.relu ? tf.tidy(() => tf.relu(out as tf.Tensor)) : out;
    }
    return tf.tidy(() => {
      const gamma = bn.gamma.read() as tf.Tensor1D;
      const beta = bn.beta.read() as tf.Tensor1D;
      if (kwargs.training !== true) {
        const k = tf.mul(
          gamma,
          tf.rsqrt(tf.add(bn.movingVariance.read(), bn.epsilon)),
        ) as tf.Tensor1D;
        const shift = tf.sub(beta, tf.mul(bn.movingMean.read(), k)) as tf.Tensor1D;
        return channelAffine(x, k, shift, this.relu);
      }
      const { y, mean, variance, movingMean, movingVariance } = batchNormTraining(
        x,
        gamma,
        beta,
        bn.epsilon,
        {
          mean: bn.movingMean.read() as tf.Tensor1D,
          variance: bn.movingVariance.read() as tf.Tensor1D,
          momentum: bn.momentum,
        },
        { relu: this.relu },
      );
      bn.movingMean.write(movingMean as tf.Tensor1D);
      bn.movingVariance.write(movingVariance as tf.Tensor1D);
      // Kept by batchNormTraining (made inside its custom gradient): a tidy would not free them.
      tf.dispose([mean, variance, movingMean as tf.Tensor1D, movingVariance as tf.Tensor1D]);
      return y;
    });
  }
}
tf.serialization.registerClass(FastBatchNormalization, 'Ediy');

/**
 * A {@link FastBatchNormalization} layer, as `tf.layers.batchNormalization(args)` makes
 * tfjs's own (same arguments and defaults).
 */
export function fastBatchNormalization(
  args: FastBatchNormalizationArgs = {},
): FastBatchNormalization {
  return new FastBatchNormalization(args);
}

/**
 * A BatchNorm layer of the kind asked for ({@link BatchNormLayer}).
 * @param where - names the caller in the error for a bad `kind`.
 */
export function batchNormalizationLayer(
  kind: BatchNormLayer,
  args: BatchNormalizationArgs,
  where = 'batchNormalizationLayer',
): tfl.layers.Layer {
  if (kind === 'fast') return fastBatchNormalization(args);
  if (kind === 'tfjs') return tfl.layers.batchNormalization(args);
  throw new RangeError(
    `${where}: batchNormLayer must be 'tfjs' or 'fast', got ${JSON.stringify(kind)}`,
  );
}

/** Whether a layer is a BatchNorm layer: tfjs-layers' `BatchNormalization` or a {@link FastBatchNormalization}. */
export function isBatchNormalization(layer: tfl.layers.Layer): boolean {
  const name = layer.getClassName();
  return name === 'BatchNormalization' || name === FastBatchNormalization.className;
}

/** A serialised layer of a model's configuration, as `getConfig()` returns it. */
interface LayerConfig {
  className: string;
  config: Record<string, unknown> & { layers?: LayerConfig[] };
}

/**
 * A copy of `model` whose tfjs-layers `BatchNormalization` layers are
 * {@link FastBatchNormalization} layers, with the same configuration and weight values
 * (for a model loaded from a file, such as a teacher saved by `tf.LayersModel.save`).
 * Nested models are converted too. `model` itself is not changed; the caller owns both.
 * @throws when `model` is not a functional or sequential tfjs-layers model.
 */
export function withFastBatchNorm(model: LayersModel): LayersModel {
  const className = model.getClassName();
  if (className !== 'Functional' && className !== 'Model' && className !== 'Sequential') {
    throw new Error(
      `withFastBatchNorm: expected a functional or sequential tfjs-layers model, got a ${className}`,
    );
  }
  const convert = (layers: LayerConfig[] | undefined): void => {
    for (const layer of layers ?? []) {
      if (layer.className === 'BatchNormalization')
        layer.className = FastBatchNormalization.className;
      convert(layer.config.layers);
    }
  };
  const config = model.getConfig() as LayerConfig['config'];
  convert(config.layers);
  // Both classes' static fromConfig(cls, config, customObjects, fastWeightInit) rebuild the
  // layers from their configuration (registered classes looked up by name); the fast weight
  // initialisation skips drawing values the copied weights replace.
  const ctor = (className === 'Sequential' ? tfl.Sequential : tfl.LayersModel) as unknown as {
    fromConfig(
      cls: unknown,
      config: unknown,
      customObjects: object,
      fastInit: boolean,
    ): LayersModel;
  };
  const copy = ctor.fromConfig(ctor, config, {}, true);
  // Layer by layer: the rebuilt graph may list layers of equal depth in another order.
  for (const layer of copy.layers) layer.setWeights(model.getLayer(layer.name).getWeights());
  copy.trainable = model.trainable;
  return copy;
}
