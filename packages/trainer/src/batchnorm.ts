/**
 * BatchNorm for training on the wasm backend without its slow paths. tfjs-layers
 * normalises a batch with `tf.moments` and `tf.batchNorm`, and differentiates through
 * both: the gradient of `FusedBatchNorm` tiles the inverse deviation to the input's full
 * shape (wasm's `Tile` takes ~200 ms for a [64,32,32,32] map), and the moments'
 * gradients broadcast and reduce over non-innermost axes (a transpose each). Here the
 * per-channel means are one average pooling over all rows, the per-channel affine
 * maps one 1x1 depthwise convolution with bias, and the backward pass is the closed
 * form of BatchNorm's gradient. The normalisation, the moving statistics and their
 * update are those of tfjs-layers' `BatchNormalization` (biased batch variance).
 *
 * NaN does not propagate through these kernels on wasm: average pooling and the fused
 * depthwise convolution return -Infinity for a NaN input (a following ReLU makes it 0).
 * The trainer does not rely on propagation: it checks input images, gradients and weights
 * for non-finite values itself (`assertFinite`), and every checkpoint and teacher it loads.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { BATCH_NORM_KERNELS } from '@ediy/backend';

/** What {@link batchNormTraining} returns; the caller owns all three. */
export interface BatchNormTrainingResult {
  /** The normalised, scaled and shifted input (same shape as `x`). */
  y: tf.Tensor;
  /** The per-channel batch mean `[C]`. */
  mean: tf.Tensor1D;
  /** The per-channel biased batch variance `[C]`. */
  variance: tf.Tensor1D;
}

/** `x * scale + shift` along the last axis of `x` (any rank >= 2), in one pass. */
export function channelAffine(x: tf.Tensor, scale: tf.Tensor1D, shift: tf.Tensor1D): tf.Tensor {
  return tf.tidy(() => {
    const c = x.shape[x.rank - 1] as number;
    const x4 = tf.reshape(x, [1, 1, x.size / c, c]) as tf.Tensor4D;
    const filter = tf.reshape(scale, [1, 1, c, 1]) as tf.Tensor4D;
    const out = tf.fused.depthwiseConv2d({ x: x4, filter, strides: 1, pad: 'valid', bias: shift });
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
 * @returns new tensors owned by the caller.
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
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
  const n = x.size / c;
  const backend = tf.getBackend();
  const native =
    tf.getKernel(BATCH_NORM_KERNELS.moments, backend) !== undefined &&
    tf.getKernel(BATCH_NORM_KERNELS.gradient, backend) !== undefined;
  // The statistics are computed inside the custom-gradient function, so the tape keeps
  // none of their intermediates; they leave it through `stats` (kept, owned by the caller).
  let stats: [tf.Tensor1D, tf.Tensor1D] | undefined;
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
      // Statistics, invStd and the affine pass in one kernel call.
      let variance: tf.Tensor1D;
      [value, mean, variance, invStd] = tf.engine().runKernel(
        BATCH_NORM_KERNELS.forward,
        { x: input, gamma: g, beta: b },
        {
          epsilon,
        },
      ) as unknown as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
      stats = [tf.keep(mean), tf.keep(variance)];
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
    save([input, mean, invStd, g]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, m, inv, gs] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const [dx, sumDy, sumDyXhat] = tf.engine().runKernel(BATCH_NORM_KERNELS.gradient, {
          dy,
          x: xs,
          mean: m,
          invStd: inv,
          gamma: gs,
        }) as unknown as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
        return [dx, sumDyXhat, sumDy];
      },
    };
  }
  const y = tf.tidy(() => normalise(x, gamma, beta));
  const [mean, variance] = stats as [tf.Tensor1D, tf.Tensor1D];
  return { y, mean, variance };
}

/** The fields of a tfjs-layers `BatchNormalization` layer that {@link useFastBatchNorm} reads. */
interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: { read(): tf.Tensor };
  beta: { read(): tf.Tensor };
  movingMean: { read(): tf.Tensor; write(t: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(t: tf.Tensor): void };
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

const PATCHED = Symbol('ediy.fastBatchNorm');

/**
 * Makes every channels-last `BatchNormalization` layer of `model` compute as
 * {@link batchNormTraining} in training mode and as one {@link channelAffine} in inference
 * mode, with the same moving-statistics update as tfjs-layers. The model's weights,
 * configuration and serialisation are unchanged (the change is to these layer objects
 * only). Layers without centre or scale, or normalising another axis, are left as they are.
 * Calling it again on the same model changes nothing.
 * @returns the number of layers changed by this call.
 */
export function useFastBatchNorm(model: LayersModel): number {
  let changed = 0;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const bn = layer as unknown as BatchNormLayer & { [PATCHED]?: true };
    if (bn[PATCHED] || !bn.center || !bn.scale) continue;
    const original = bn.call.bind(bn);
    bn.call = (inputs, kwargs) => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (
        !x ||
        (Array.isArray(inputs) && inputs.length !== 1) ||
        x.rank < 2 ||
        (bn.axis !== -1 && bn.axis !== x.rank - 1)
      ) {
        return original(inputs, kwargs);
      }
      return tf.tidy(() => {
        const gamma = bn.gamma.read() as tf.Tensor1D;
        const beta = bn.beta.read() as tf.Tensor1D;
        if (kwargs.training !== true) {
          const k = tf.mul(
            gamma,
            tf.rsqrt(tf.add(bn.movingVariance.read(), bn.epsilon)),
          ) as tf.Tensor1D;
          return channelAffine(x, k, tf.sub(beta, tf.mul(bn.movingMean.read(), k)) as tf.Tensor1D);
        }
        const { y, mean, variance } = batchNormTraining(x, gamma, beta, bn.epsilon);
        for (const [variable, value] of [
          [bn.movingMean, mean],
          [bn.movingVariance, variance],
        ] as const) {
          const old = variable.read();
          variable.write(tf.sub(old, tf.mul(tf.sub(old, value), 1 - bn.momentum)));
        }
        tf.dispose([mean, variance]); // kept by batchNormTraining: a tidy would not free them
        return y;
      });
    };
    bn[PATCHED] = true;
    changed += 1;
  }
  return changed;
}
