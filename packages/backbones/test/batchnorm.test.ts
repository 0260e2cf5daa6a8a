import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveToMemory } from './helpers.js';
import {
  ADD_RELU_KERNEL as BACKEND_ADD_RELU,
  BATCH_NORM_KERNELS as BACKEND_KERNELS,
  initBackend,
  nativeEngineStatus,
} from '@ediy/backend';
import {
  ADD_RELU_KERNEL,
  AddReLU,
  BATCH_NORM_KERNELS,
  FastBatchNormalization,
  batchNormTraining,
  batchNormalizationLayer,
  channelAffine,
  channelMeans,
  fastBatchNormalization,
  isBatchNormalization,
  resnet,
  withFastBatchNorm,
} from '@ediy/backbones';
import { exportTorchvisionWeights, importTorchvisionWeights } from '@ediy/backbones/interop';

// Plain wasm computes BatchNorm with tfjs ops; the native engine with its two kernels.
const BACKENDS = (await nativeEngineStatus()).available ? ['wasm', 'native'] : ['wasm'];

/**
 * A model of one BatchNorm layer (tfjs-layers' or the fast one) with non-trivial gamma,
 * beta and moving statistics.
 */
function bnModel(
  shape: number[],
  seed: number,
  kind: 'tfjs' | 'fast' | 'fast+relu' | 'fast,relu' = 'tfjs',
): tfl.LayersModel {
  const input = tfl.input({ shape });
  const args = { axis: -1, momentum: 0.9, epsilon: 1e-5 };
  // 'fast+relu': one FastBatchNormalization with relu; 'fast,relu': it and a ReLU layer.
  const layer =
    kind === 'fast+relu'
      ? fastBatchNormalization({ ...args, relu: true })
      : batchNormalizationLayer(kind === 'fast,relu' ? 'fast' : kind, args);
  let out = layer.apply(input) as tfl.SymbolicTensor;
  if (kind === 'fast,relu') out = tfl.layers.reLU().apply(out) as tfl.SymbolicTensor;
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

    it('updates given moving statistics as tfjs ops do, bit for bit; on the native engine inside the forward kernel call', async () => {
      const x = tf.randomNormal([4, 3, 3, 6], 0.5, 2, 'float32', 11);
      const gamma = tf.randomUniform([6], 0.5, 1.5, 'float32', 12) as tf.Tensor1D;
      const beta = tf.randomUniform([6], -0.5, 0.5, 'float32', 13) as tf.Tensor1D;
      const moving = {
        mean: tf.randomUniform([6], -0.2, 0.2, 'float32', 14) as tf.Tensor1D,
        variance: tf.randomUniform([6], 0.5, 2, 'float32', 15) as tf.Tensor1D,
        momentum: 0.9,
      };
      const plain = batchNormTraining(x, gamma, beta, 1e-5);
      let r: ReturnType<typeof batchNormTraining> | undefined;
      const profile = await tf.profile(() => {
        r = batchNormTraining(x, gamma, beta, 1e-5, moving);
      });
      const got = r as ReturnType<typeof batchNormTraining>;
      const bits = (t: tf.Tensor | undefined) => Array.from((t as tf.Tensor).dataSync());
      expect(bits(got.y)).toEqual(bits(plain.y));
      expect(bits(got.mean)).toEqual(bits(plain.mean));
      expect(bits(got.variance)).toEqual(bits(plain.variance));
      const expected = [
        [moving.mean, got.mean],
        [moving.variance, got.variance],
      ].map(([old, batch]) =>
        tf.sub(old as tf.Tensor, tf.mul(tf.sub(old as tf.Tensor, batch as tf.Tensor), 1 - 0.9)),
      );
      expect(bits(got.movingMean)).toEqual(bits(expected[0]));
      expect(bits(got.movingVariance)).toEqual(bits(expected[1]));
      expect(bits(got.movingMean)).not.toEqual(bits(moving.mean)); // it did move
      // Plain wasm runs the update as 4 Sub and 2 Multiply (and the normalisation has some).
      const updateOps = profile.kernels.filter((k) => k.name === 'Sub' || k.name === 'Multiply');
      if (backend === 'native') expect(updateOps).toHaveLength(0);
      else expect(updateOps.length).toBeGreaterThanOrEqual(6);
      expect(() =>
        batchNormTraining(x, gamma, beta, 1e-5, { ...moving, momentum: Number.NaN }),
      ).toThrow(/momentum must be a finite number, got NaN/);
      expect(() =>
        batchNormTraining(x, gamma, beta, 1e-5, { ...moving, mean: tf.slice(beta, 0, 5) }),
      ).toThrow(/moving mean and variance must have 6 values/);
      tf.dispose([x, gamma, beta, moving.mean, moving.variance, ...expected]);
      tf.dispose([plain.y, plain.mean, plain.variance, got.y, got.mean, got.variance]);
      tf.dispose([got.movingMean as tf.Tensor, got.movingVariance as tf.Tensor]);
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

  describe('FastBatchNormalization', () => {
    it.each([
      ['a [B,H,W,C] map', [4, 5, 5, 6]],
      ['a [B,D] batch', [16, 12]],
    ])(
      "gives tfjs BatchNormalization's outputs, gradients and moving statistics on %s, training and inference",
      (_, shape) => {
        const x = tf.randomNormal(shape, 0.3, 1.5, 'float32', 7);
        const w = tf.randomNormal(shape, 0, 1, 'float32', 8);
        const slow = bnModel(shape.slice(1), 1);
        const fast = bnModel(shape.slice(1), 1, 'fast');
        expect(fast.layers[1]).toBeInstanceOf(FastBatchNormalization);
        const a = trainStep(slow, x, w);
        const b = trainStep(fast, x, w);
        expect(maxDiff(a.y, b.y)).toBeLessThan(1e-4);
        expect(maxDiff(a.dx, b.dx)).toBeLessThan(1e-4);
        a.grads.forEach((g, i) => expect(maxDiff(g, b.grads[i] as tf.Tensor)).toBeLessThan(1e-3));
        a.moving.forEach((m, i) => expect(maxDiff(m, b.moving[i] as tf.Tensor)).toBeLessThan(1e-5));
        expect(
          maxDiff(
            slow.apply(x, { training: false }) as tf.Tensor,
            fast.apply(x, { training: false }) as tf.Tensor,
          ),
        ).toBeLessThan(1e-4);
        expect(maxDiff(slow.predict(x) as tf.Tensor, fast.predict(x) as tf.Tensor)).toBeLessThan(
          1e-4,
        );
        tf.dispose([x, w, a.y, a.dx, b.y, b.dx, ...a.grads, ...b.grads]);
        slow.dispose();
        fast.dispose();
      },
    );

    it.each([
      ['a [B,H,W,C] map', [4, 5, 5, 6]],
      ['a [B,D] batch', [16, 12]],
    ])(
      'with relu: the outputs, gradients and moving statistics of it and a ReLU layer, bit for bit, on %s',
      async (_, shape) => {
        const x = tf.randomNormal(shape, 0.3, 1.5, 'float32', 17);
        const w = tf.randomNormal(shape, 0, 1, 'float32', 18);
        const fused = bnModel(shape.slice(1), 3, 'fast+relu');
        const apart = bnModel(shape.slice(1), 3, 'fast,relu');
        expect(fused.layers).toHaveLength(2);
        expect((fused.layers[1] as FastBatchNormalization).relu).toBe(true);
        const a = trainStep(apart, x, w);
        const b = trainStep(fused, x, w);
        // The ReLU acted: some outputs are 0, and so are some input gradients' terms.
        expect(tf.tidy(() => tf.sum(tf.equal(b.y, 0)).dataSync()[0])).toBeGreaterThan(0);
        expect(maxDiff(a.y, b.y)).toBe(0);
        expect(maxDiff(a.dx, b.dx)).toBe(0);
        a.grads.forEach((g, i) => expect(maxDiff(g, b.grads[i] as tf.Tensor)).toBe(0));
        a.moving.forEach((m, i) => expect(maxDiff(m, b.moving[i] as tf.Tensor)).toBe(0));
        const plain = bnModel(shape.slice(1), 3, 'fast');
        const c = trainStep(plain, x, w);
        expect(maxDiff(a.dx, c.dx)).toBeGreaterThan(0);
        for (const training of [false, true]) {
          const ya = apart.apply(x, { training }) as tf.Tensor;
          const yb = fused.apply(x, { training }) as tf.Tensor;
          expect(maxDiff(ya, yb), `training ${training}`).toBe(0);
          tf.dispose([ya, yb]);
        }
        // In inference the ReLU is the affine map's activation: one kernel, no Relu of its own.
        const profile = await tf.profile(() => fused.apply(x, { training: false }) as tf.Tensor);
        const kernels = profile.kernels.map((k) => k.name);
        expect(kernels).toContain('FusedDepthwiseConv2D');
        expect(kernels).not.toContain('Relu');
        tf.dispose(profile.result as tf.Tensor);
        tf.dispose([x, w, a.y, a.dx, b.y, b.dx, c.y, c.dx, ...a.grads, ...b.grads, ...c.grads]);
        [fused, apart, plain].forEach((m) => m.dispose());
      },
    );

    it('with relu: saves it in the configuration and loads it back', async () => {
      const model = bnModel([2, 2, 3], 9, 'fast+relu');
      const saved = await saveToMemory(model);
      expect(JSON.stringify(saved.modelTopology)).toContain('"relu":true');
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved));
      expect((loaded.layers[1] as FastBatchNormalization).relu).toBe(true);
      const x = tf.randomNormal([3, 2, 2, 3], 0, 1, 'float32', 10);
      const ya = model.predict(x) as tf.Tensor;
      const yb = loaded.predict(x) as tf.Tensor;
      expect(maxDiff(ya, yb)).toBe(0);
      expect(tf.min(yb).dataSync()[0]).toBeGreaterThanOrEqual(0);
      tf.dispose([x, ya, yb]);
      model.dispose();
      loaded.dispose();
      expect(() => fastBatchNormalization({ relu: 'yes' as unknown as boolean })).toThrow(
        'FastBatchNormalization: relu must be a boolean, got yes',
      );
    });

    it('lets resnet() fold each ReLU after a BatchNorm or a residual sum into it: the same weights, results and gradients', async () => {
      const config = { depth: 18, stem: 'small', widthMultiplier: 1 / 32, seed: 4 } as const;
      const apart = resnet(config, { batchNormLayer: 'fast' });
      const fused = resnet(config, { batchNormLayer: 'fast', fuseReLU: true });
      const names = (m: tfl.LayersModel) => m.weights.map((w) => [w.originalName, w.shape]);
      expect(names(fused)).toEqual(names(apart));
      const layerNames = fused.layers.map((l) => l.name);
      expect(layerNames).not.toContain('relu');
      expect(layerNames).not.toContain('layer1.0.relu1');
      expect(layerNames).toContain('layer1.0.relu');
      expect(apart.layers.map((l) => l.name)).toContain('layer1.0.relu1');
      expect(layerNames).not.toContain('layer1.0.add');
      expect(fused.getLayer('layer1.0.relu')).toBeInstanceOf(AddReLU);
      // 9 ReLUs after a BatchNorm and 8 residual sums fewer.
      expect(fused.layers.length).toBe(apart.layers.length - 17);
      expect(fused.outputNames).toEqual(apart.outputNames);
      const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 11);
      for (const training of [false, true]) {
        const a = apart.apply(x, { training }) as tf.Tensor[];
        const b = fused.apply(x, { training }) as tf.Tensor[];
        expect(maxDiff(a[0]!, b[0]!), `training ${training}`).toBe(0);
        tf.dispose([...a, ...b]);
      }
      const loss = (m: tfl.LayersModel) => () =>
        tf.sum(tf.square((m.apply(x, { training: true }) as tf.Tensor[])[0]!)) as tf.Scalar;
      const ga = tf.variableGrads(
        loss(apart),
        apart.trainableWeights.map((v) => v.read() as tf.Variable),
      );
      const gb = tf.variableGrads(
        loss(fused),
        fused.trainableWeights.map((v) => v.read() as tf.Variable),
      );
      const va = Object.values(ga.grads);
      const vb = Object.values(gb.grads);
      expect(vb).toHaveLength(va.length);
      va.forEach((g, i) => expect(maxDiff(g, vb[i]!)).toBe(0));
      // On the native engine the sums and their ReLUs are one kernel call each.
      const profile = await tf.profile(() => fused.apply(x, { training: true }) as tf.Tensor[]);
      const calls = (name: string) => profile.kernels.filter((k) => k.name === name).length;
      expect(calls(ADD_RELU_KERNEL)).toBe(backend === 'native' ? 8 : 0);
      // Plain wasm: tf.relu after each of the 9 BatchNorms and the 8 sums.
      expect(calls('Relu')).toBe(backend === 'native' ? 0 : 17);
      tf.dispose([x, ga.value, gb.value, ...va, ...vb, ...(profile.result as tf.Tensor[])]);
      expect(() => resnet(config, { fuseReLU: true })).toThrow(
        `resnet: options.fuseReLU needs options.batchNormLayer 'fast' (the layer that computes the ReLU), got "tfjs"`,
      );
      apart.dispose();
      fused.dispose();
    });

    it('moves the statistics as Keras: moving - (moving - batch) * (1 - momentum), biased variance', () => {
      const model = bnModel([3, 3, 4], 5, 'fast');
      const [mean0, var0] = model
        .getWeights()
        .slice(2)
        .map((t) => t.clone());
      const x = tf.randomNormal([2, 3, 3, 4], 1, 2, 'float32', 6);
      tf.dispose(model.apply(x, { training: true }) as tf.Tensor);
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      const expected = [
        tf.sub(mean0!, tf.mul(tf.sub(mean0!, mean), 0.1)),
        tf.sub(var0!, tf.mul(tf.sub(var0!, variance), 0.1)),
      ];
      const [m1, v1] = model.getWeights().slice(2);
      expect(maxDiff(m1!, expected[0]!)).toBeLessThan(1e-5);
      expect(maxDiff(v1!, expected[1]!)).toBeLessThan(1e-5);
      expect(maxDiff(m1!, mean0!)).toBeGreaterThan(1e-2); // they did move
      // inference reads the moving statistics and moves nothing
      tf.dispose(model.apply(x) as tf.Tensor);
      expect(maxDiff(model.getWeights()[2]!, m1!)).toBe(0);
      tf.dispose([mean0!, var0!, x, mean, variance, ...expected]);
      model.dispose();
    });

    it("has tfjs BatchNormalization's configuration and weights: names, order and shapes", () => {
      const args = { axis: -1, momentum: 0.8, epsilon: 1e-4, name: 'bn' };
      const slow = tfl.layers.batchNormalization(args);
      const fast = fastBatchNormalization(args);
      const input = tfl.input({ shape: [7] });
      slow.apply(input);
      fast.apply(input);
      const describe = (l: tfl.layers.Layer) =>
        l.weights.map((v) => [v.originalName, v.shape, v.trainable]);
      expect(describe(fast)).toEqual(describe(slow));
      expect(describe(fast).map(([n]) => String(n).split('/').at(-1))).toEqual([
        'gamma',
        'beta',
        'moving_mean',
        'moving_variance',
      ]);
      expect(fast.getConfig()).toEqual(slow.getConfig());
      expect(fast.getClassName()).toBe('FastBatchNormalization');
      expect(isBatchNormalization(fast) && isBatchNormalization(slow)).toBe(true);
      expect(isBatchNormalization(tfl.layers.dense({ units: 1 }))).toBe(false);
      slow.dispose();
      fast.dispose();
    });

    it('saves and loads as itself (a registered class), with its weights and results', async () => {
      const model = bnModel([2, 2, 3], 9, 'fast');
      const saved = await saveToMemory(model);
      expect(JSON.stringify(saved.modelTopology)).toContain(
        '"class_name":"FastBatchNormalization"',
      );
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved));
      expect(loaded.layers[1]).toBeInstanceOf(FastBatchNormalization);
      model.getWeights().forEach((t, i) => expect(maxDiff(t, loaded.getWeights()[i]!)).toBe(0));
      const x = tf.randomNormal([3, 2, 2, 3], 0, 1, 'float32', 10);
      for (const training of [false, true]) {
        const ya = model.apply(x, { training }) as tf.Tensor;
        const yb = loaded.apply(x, { training }) as tf.Tensor;
        expect(maxDiff(ya, yb), `training ${training}`).toBe(0);
        tf.dispose([ya, yb]);
      }
      x.dispose();
      model.dispose();
      loaded.dispose();
    });

    it('lets resnet() build the same network either way: weights, names and results', () => {
      const config = { depth: 18, stem: 'small', widthMultiplier: 1 / 32, seed: 4 } as const;
      const slow = resnet(config);
      const fast = resnet(config, { batchNormLayer: 'fast' });
      const bn = (m: tfl.LayersModel) => m.layers.filter(isBatchNormalization);
      expect(bn(fast).every((l) => l instanceof FastBatchNormalization)).toBe(true);
      expect(bn(slow).some((l) => l instanceof FastBatchNormalization)).toBe(false);
      expect(bn(fast)).toHaveLength(bn(slow).length);
      const names = (m: tfl.LayersModel) => m.weights.map((w) => [w.originalName, w.shape]);
      expect(names(fast)).toEqual(names(slow));
      slow.getWeights().forEach((t, i) => expect(maxDiff(t, fast.getWeights()[i]!)).toBe(0));
      const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 11);
      for (const training of [false, true]) {
        const a = slow.apply(x, { training }) as tf.Tensor[];
        const b = fast.apply(x, { training }) as tf.Tensor[];
        expect(maxDiff(a[0]!, b[0]!), `training ${training}`).toBeLessThan(1e-3);
        tf.dispose([...a, ...b]);
      }
      // torchvision weights go out of and into either network alike
      const state = exportTorchvisionWeights(fast, config);
      expect([...state.keys()]).toEqual([...exportTorchvisionWeights(slow, config).keys()]);
      const other = resnet({ ...config, seed: 5 }, { batchNormLayer: 'fast' });
      expect(importTorchvisionWeights(other, state).missing).toEqual([]);
      other.getWeights().forEach((t, i) => expect(maxDiff(t, fast.getWeights()[i]!)).toBe(0));
      other.dispose();
      expect(() => resnet(config, { batchNormLayer: 'quick' as 'fast' })).toThrow(
        `resnet: options.batchNormLayer must be 'tfjs' or 'fast', got "quick"`,
      );
      x.dispose();
      slow.dispose();
      fast.dispose();
    });

    it('withFastBatchNorm copies a loaded tfjs model with fast layers, the same weights and results', () => {
      const slow = resnet({ depth: 18, stem: 'small', widthMultiplier: 1 / 32, seed: 2 });
      slow.trainable = false;
      const before = tf.memory().numTensors;
      const fast = withFastBatchNorm(slow);
      expect(tf.memory().numTensors - before).toBe(fast.weights.length); // its weights only
      expect(
        fast.layers.filter(isBatchNormalization).every((l) => l instanceof FastBatchNormalization),
      ).toBe(true);
      expect(slow.layers.some((l) => l instanceof FastBatchNormalization)).toBe(false);
      expect(fast.trainable).toBe(false);
      expect(fast.name).toBe(slow.name);
      expect(fast.layers.map((l) => l.name)).toEqual(slow.layers.map((l) => l.name));
      for (const layer of slow.layers) {
        const copied = fast.getLayer(layer.name).getWeights();
        layer.getWeights().forEach((t, i) => expect(maxDiff(t, copied[i]!), layer.name).toBe(0));
      }
      const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 12);
      const a = slow.predict(x) as tf.Tensor[];
      const b = fast.predict(x) as tf.Tensor[];
      expect(maxDiff(a[0]!, b[0]!)).toBeLessThan(1e-4);
      tf.dispose([x, ...a, ...b]);
      fast.dispose();
      expect(tf.memory().numTensors).toBe(before);
      slow.dispose();
      const dense = tfl.layers.dense({ units: 2 });
      expect(() => withFastBatchNorm(dense as unknown as tfl.LayersModel)).toThrow(
        'withFastBatchNorm: expected a functional or sequential tfjs-layers model, got a Dense',
      );
    });

    it('allocates nothing that outlives a training call', () => {
      const model = bnModel([3, 3, 4], 3, 'fast');
      const x = tf.randomNormal([2, 3, 3, 4]);
      const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
      const run = () => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
          vars,
        );
        tf.dispose([value, ...Object.values(grads)]);
        tf.dispose(model.apply(x) as tf.Tensor);
      };
      run();
      const before = tf.memory().numTensors;
      run();
      run();
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
      model.dispose();
    });
  });
});

describe('the native kernel names', () => {
  it("are @ediy/backend's", () => {
    expect(BATCH_NORM_KERNELS).toEqual(BACKEND_KERNELS);
    expect(ADD_RELU_KERNEL).toBe(BACKEND_ADD_RELU);
  });
});

describe('batchNormalizationLayer', () => {
  it('refuses an unknown kind, naming it', () => {
    expect(() => batchNormalizationLayer('quick' as 'fast', {}, 'mlp')).toThrow(
      `mlp: batchNormLayer must be 'tfjs' or 'fast', got "quick"`,
    );
  });
});
