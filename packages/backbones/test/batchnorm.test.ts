import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { BATCH_NORM_KERNELS, initBackend, nativeEngineStatus } from '@ediy/backend';
import { batchNormTraining, channelAffine, useFastBatchNorm } from '@ediy/trainer';
import { channelMeans } from '@ediy/trainer/internal';

// Plain wasm computes BatchNorm with tfjs ops; the native engine with its two kernels.
const BACKENDS = (await nativeEngineStatus()).available ? ['wasm', 'native'] : ['wasm'];

/** A model of one BatchNormalization layer with non-trivial gamma, beta and moving statistics. */
function bnModel(shape: number[], seed: number): tfl.LayersModel {
  const input = tfl.input({ shape });
  const out = tfl.layers
    .batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 })
    .apply(input) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  const c = shape[shape.length - 1] as number;
  model.setWeights([
    tf.randomUniform([c], 0.5, 1.5, 'float32', seed),
    tf.randomUniform([c], -0.5, 0.5, 'float32', seed + 1),
    tf.randomUniform([c], -0.2, 0.2, 'float32', seed + 2),
    tf.randomUniform([c], 0.5, 2, 'float32', seed + 3),
  ]);
  return model;
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** Output, gradients w.r.t. input and trainable weights of sum(y * w), and moving statistics after one call. */
function trainStep(model: tfl.LayersModel, x: tf.Tensor, w: tf.Tensor) {
  const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
  let y: tf.Tensor | undefined;
  const { grads } = tf.variableGrads(() => {
    y = tf.keep(model.apply(x, { training: true }) as tf.Tensor);
    return tf.sum(tf.mul(y, w)) as tf.Scalar;
  }, vars);
  const dx = tf.grad((xi: tf.Tensor) =>
    tf.sum(tf.mul(model.apply(xi, { training: true }) as tf.Tensor, w)),
  )(x);
  return {
    y: y as tf.Tensor,
    grads: vars.map((v) => grads[v.name] as tf.Tensor),
    dx,
    moving: model.getWeights().slice(2),
  };
}

describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ prefer: backend as 'wasm' | 'native' });
  });

  it(
    backend === 'native' ? 'uses the native BatchNorm kernels' : 'has no native BatchNorm kernels',
    () => {
      const has = tf.getKernel(BATCH_NORM_KERNELS.gradient, tf.getBackend()) !== undefined;
      expect(has).toBe(backend === 'native');
    },
  );

  describe('batchNormTraining', () => {
    it('matches the closed form on values computed by hand (N = 3, one channel)', () => {
      // x = [0, 1, 5]: mean 2, biased variance 14/3; gamma 2, beta 0.5, eps 0
      const x = tf.tensor2d([[0], [1], [5]]);
      const std = Math.sqrt(14 / 3);
      const xhat = [0, 1, 5].map((v) => (v - 2) / std);
      const { y, mean, variance } = batchNormTraining(x, tf.tensor1d([2]), tf.tensor1d([0.5]), 0);
      expect(mean.dataSync()[0]).toBeCloseTo(2, 5);
      expect(variance.dataSync()[0]).toBeCloseTo(14 / 3, 5);
      Array.from(y.dataSync()).forEach((v, i) =>
        expect(v).toBeCloseTo(2 * (xhat[i] as number) + 0.5, 5),
      );
      // loss = y[0]: dy = [1, 0, 0]; dx_i = gamma / std * (dy_i - mean(dy) - xhat_i * mean(dy * xhat))
      const dy = [1, 0, 0];
      const meanDyXhat = (xhat[0] as number) / 3;
      const expected = dy.map((d, i) => (2 / std) * (d - 1 / 3 - (xhat[i] as number) * meanDyXhat));
      const g = tf.grads((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) =>
        tf.sum(
          tf.slice(
            batchNormTraining(xi, gi as tf.Tensor1D, bi as tf.Tensor1D, 0).y,
            [0, 0],
            [1, 1],
          ),
        ),
      )([x, tf.tensor1d([2]), tf.tensor1d([0.5])]);
      Array.from(g[0]!.dataSync()).forEach((v, i) =>
        expect(v).toBeCloseTo(expected[i] as number, 5),
      );
      expect(g[1]!.dataSync()[0]).toBeCloseTo(xhat[0] as number, 5); // dgamma = sum(dy * xhat)
      expect(g[2]!.dataSync()[0]).toBeCloseTo(1, 5); // dbeta = sum(dy)
    });

    it('refuses a vector input and mismatched gamma', () => {
      expect(() =>
        batchNormTraining(
          tf.ones([4]),
          tf.ones([4]) as tf.Tensor1D,
          tf.ones([4]) as tf.Tensor1D,
          1e-5,
        ),
      ).toThrow('x must have rank >= 2 (channels last), got shape [4]');
      expect(() =>
        batchNormTraining(
          tf.ones([2, 3]),
          tf.ones([4]) as tf.Tensor1D,
          tf.ones([3]) as tf.Tensor1D,
          1e-5,
        ),
      ).toThrow("gamma and beta must have 3 values (x's channels), got 4 and 3");
    });

    it('channelMeans and channelAffine act per channel', () => {
      const x = tf.tensor3d([
        [
          [1, 10],
          [2, 20],
        ],
        [
          [3, 30],
          [4, 40],
        ],
      ]);
      expect(Array.from(channelMeans(x).dataSync())).toEqual([2.5, 25]);
      expect(
        Array.from(channelAffine(x, tf.tensor1d([2, -1]), tf.tensor1d([1, 0])).dataSync()),
      ).toEqual([3, -10, 5, -20, 7, -30, 9, -40]);
    });
  });

  describe('useFastBatchNorm', () => {
    it.each([
      ['a [B,H,W,C] map', [4, 5, 5, 6]],
      ['a [B,D] batch', [16, 12]],
    ])('gives the outputs, gradients and moving statistics of tfjs-layers on %s', (_, shape) => {
      const x = tf.randomNormal(shape, 0.3, 1.5, 'float32', 7);
      const w = tf.randomNormal(shape, 0, 1, 'float32', 8);
      const slow = bnModel(shape.slice(1), 1);
      const fast = bnModel(shape.slice(1), 1);
      expect(useFastBatchNorm(fast)).toBe(1);
      expect(useFastBatchNorm(fast)).toBe(0);
      const a = trainStep(slow, x, w);
      const b = trainStep(fast, x, w);
      expect(maxDiff(a.y, b.y)).toBeLessThan(1e-4);
      expect(maxDiff(a.dx, b.dx)).toBeLessThan(1e-4);
      a.grads.forEach((g, i) => expect(maxDiff(g, b.grads[i] as tf.Tensor)).toBeLessThan(1e-3));
      a.moving.forEach((m, i) => expect(maxDiff(m, b.moving[i] as tf.Tensor)).toBeLessThan(1e-5));
      // the moving statistics did move
      expect(
        maxDiff(a.moving[0] as tf.Tensor, bnModel(shape.slice(1), 1).getWeights()[2] as tf.Tensor),
      ).toBeGreaterThan(1e-3);
      expect(
        maxDiff(
          slow.apply(x, { training: false }) as tf.Tensor,
          fast.apply(x, { training: false }) as tf.Tensor,
        ),
      ).toBeLessThan(1e-4);
    });

    it('allocates nothing that outlives a training call', () => {
      const model = bnModel([3, 3, 4], 3);
      useFastBatchNorm(model);
      const x = tf.randomNormal([2, 3, 3, 4]);
      const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
      const run = () => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
          vars,
        );
        tf.dispose([value, ...Object.values(grads)]);
      };
      run();
      const before = tf.memory().numTensors;
      run();
      run();
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});
