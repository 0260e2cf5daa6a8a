import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { FastBatchNormalization } from '@ediy/backbones';
import { BYOL_PROJECTOR, localMlp, mlp, scaleSpecs } from '@ediy/projectors';
import type { LayerSpec } from '@ediy/projectors';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
});

const HEAD: LayerSpec[] = [
  { units: 6, norm: 'bn', act: 'relu' },
  { units: 3, bias: false },
];

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** The output of layer `layerName` of `model` for input `x` (a sub-model over the same weights). */
function layerOutput(
  model: tfl.LayersModel,
  layerName: string,
  x: tf.Tensor,
  training: boolean,
): tf.Tensor {
  const sub = tfl.model({
    inputs: model.inputs,
    outputs: model.getLayer(layerName).output as tfl.SymbolicTensor,
  });
  return sub.apply(x, { training }) as tf.Tensor;
}

describe('mlp', () => {
  it('maps [B, inputDim] to [B, out]', () => {
    const model = mlp(5, HEAD, { seed: 1 });
    const x = tf.randomNormal([4, 5], 0, 1, 'float32', 2);
    const y = model.predict(x) as tf.Tensor;
    expect(y.shape).toEqual([4, 3]);
    expect(model.inputs[0]?.shape).toEqual([null, 5]);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('builds Dense, BatchNorm, ReLU in spec order, with ReLU really applied before the last layer', () => {
    const model = mlp(5, HEAD, { name: 'order', seed: 3 });
    expect(model.layers.map((l) => l.getClassName())).toEqual([
      'InputLayer',
      'Dense',
      'BatchNormalization',
      'ReLU',
      'Dense',
    ]);
    expect(model.layers.map((l) => l.name)).toEqual([
      'order_input',
      'order_0_dense',
      'order_0_bn',
      'order_0_relu',
      'order_1_dense',
    ]);
    const x = tf.randomNormal([8, 5], 0, 1, 'float32', 4);
    const bn = layerOutput(model, 'order_0_bn', x, true);
    const relu = layerOutput(model, 'order_0_relu', x, true);
    expect(Math.min(...values(bn))).toBeLessThan(0); // BN output is centred: some values are negative
    expect(Math.min(...values(relu))).toBeGreaterThanOrEqual(0);
    expect(values(relu)).toEqual(values(bn).map((v) => Math.max(v, 0)));
    const first = model.getLayer('order_0_dense') as tfl.layers.Layer;
    const last = model.getLayer('order_1_dense') as tfl.layers.Layer;
    expect(first.getWeights().map((w) => w.shape)).toEqual([[5, 6], [6]]); // kernel, bias
    expect(last.getWeights().map((w) => w.shape)).toEqual([[6, 3]]); // bias: false
    tf.dispose([x, bn, relu]);
    model.dispose();
  });

  it('adds nothing for norm/act none', () => {
    const model = mlp(4, [{ units: 2, norm: 'none', act: 'none' }]);
    expect(model.layers.map((l) => l.getClassName())).toEqual(['InputLayer', 'Dense']);
    model.dispose();
  });

  it('gives the same weights for the same seed and different ones for another seed', () => {
    const a = mlp(5, HEAD, { seed: 7 });
    const b = mlp(5, HEAD, { seed: 7 });
    const c = mlp(5, HEAD, { seed: 8 });
    const wa = a.getWeights().map(values);
    expect(b.getWeights().map(values)).toEqual(wa);
    expect(c.getWeights().map(values)[0]).not.toEqual(wa[0]);
    // kernel std is 1/sqrt(fan_in): a 64-unit layer over 400 inputs has std close to 0.05
    const wide = mlp(400, [{ units: 64 }], { seed: 1 });
    const k = values(wide.getWeights()[0] as tf.Tensor);
    const std = Math.sqrt(k.reduce((s, v) => s + v * v, 0) / k.length);
    expect(std).toBeGreaterThan(0.04);
    expect(std).toBeLessThan(0.05 * 1.05);
    expect(Math.max(...k.map(Math.abs))).toBeLessThanOrEqual(2 * 0.05 + 1e-6); // truncated at 2 std
    [a, b, c, wide].forEach((m) => m.dispose());
  });

  it('normalises with batch statistics in training mode and with the moving averages in inference', () => {
    // One Dense(4) + BN layer: BN's input is the Dense output d.
    const model = mlp(3, [{ units: 4, norm: 'bn' }], { name: 'bnmode', seed: 5 });
    const x = tf.tensor2d([
      [1, 2, 3],
      [0, -1, 2],
      [3, 0, -2],
      [-1, 1, 1],
    ]);
    const d = layerOutput(model, 'bnmode_0_dense', x, false);
    const train = model.apply(x, { training: true }) as tf.Tensor;
    // training: per feature (x - mean_batch) / sqrt(var_batch + 1e-5), gamma 1, beta 0
    const { mean, variance } = tf.moments(d, 0);
    const expectTrain = tf.div(tf.sub(d, mean), tf.sqrt(tf.add(variance, 1e-5)));
    values(train).forEach((v, i) => expect(v).toBeCloseTo(values(expectTrain)[i] as number, 4));
    // moving averages after one training call (momentum 0.9): mean = 0.1 * batch mean
    const movingMean = (
      model.getLayer('bnmode_0_bn') as tfl.layers.Layer
    ).getWeights()[2] as tf.Tensor;
    values(movingMean).forEach((v, i) =>
      expect(v).toBeCloseTo(0.1 * (values(mean)[i] as number), 5),
    );
    // inference: (d - movingMean) / sqrt(movingVar + 1e-5)
    const movingVar = (
      model.getLayer('bnmode_0_bn') as tfl.layers.Layer
    ).getWeights()[3] as tf.Tensor;
    const infer = model.predict(x) as tf.Tensor;
    const expectInfer = tf.div(tf.sub(d, movingMean), tf.sqrt(tf.add(movingVar, 1e-5)));
    values(infer).forEach((v, i) => expect(v).toBeCloseTo(values(expectInfer)[i] as number, 4));
    expect(values(infer)).not.toEqual(values(train));
    tf.dispose([x, d, train, mean, variance, expectTrain, infer, expectInfer]); // moving stats belong to the model
    model.dispose();
  });

  it('counts the parameters each spec implies', () => {
    const model = mlp(8, [
      { units: 16, norm: 'bn', act: 'relu' },
      { units: 4, bias: false },
    ]);
    // Dense 8*16 + 16 = 144; BN 4*16 = 64 (gamma, beta trainable; moving mean, variance not); Dense 16*4 = 64
    expect(model.countParams()).toBe(144 + 64 + 64);
    const trainable = model.trainableWeights.reduce(
      (s, w) => s + w.shape.reduce((a, b) => (a as number) * (b as number), 1)!,
      0,
    );
    expect(trainable).toBe(144 + 32 + 64);
    model.dispose();
  });

  it('counts the parameters of a scaled BYOL projector', () => {
    const specs = scaleSpecs(BYOL_PROJECTOR, { hidden: 32, out: 8 });
    const model = mlp(16, specs);
    // Dense 16*32 + 32 = 544; BN 4*32 = 128; Dense 32*8 (no bias) = 256
    expect(model.countParams()).toBe(544 + 128 + 256);
    model.dispose();
  });

  it('does not leak tensors over repeated calls', () => {
    const model = mlp(5, HEAD, { seed: 1 });
    const x = tf.randomNormal([4, 5], 0, 1, 'float32', 2);
    tf.dispose(model.apply(x, { training: true }) as tf.Tensor);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      tf.dispose(model.apply(x, { training: true }) as tf.Tensor);
      tf.dispose(model.predict(x) as tf.Tensor);
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('rejects bad specs and options, naming the field', () => {
    expect(() => mlp(4, [])).toThrow(/mlp: specs must be a non-empty array/);
    expect(() => mlp(4, [{ units: 0 }])).toThrow(
      /mlp: specs\[0\]\.units must be an integer >= 1, got 0/,
    );
    expect(() => mlp(4, [{ units: 4 }, { units: -2 }])).toThrow(
      /specs\[1\]\.units must be an integer >= 1, got -2/,
    );
    expect(() => mlp(4, [{ units: 2.5 }])).toThrow(/units must be an integer >= 1, got 2.5/);
    expect(() => mlp(4, [{ units: 4, norm: 'ln' as never }])).toThrow(
      /specs\[0\]\.norm must be 'bn' or 'none', got "ln"/,
    );
    expect(() => mlp(4, [{ units: 4, act: 'gelu' as never }])).toThrow(
      /specs\[0\]\.act must be 'relu' or 'none', got "gelu"/,
    );
    expect(() => mlp(4, [{ units: 4, bias: 'yes' as never }])).toThrow(
      /specs\[0\]\.bias must be a boolean/,
    );
    expect(() => mlp(4, [{ units: 4, activation: 'relu' } as never])).toThrow(
      /specs\[0\] has unknown key 'activation'/,
    );
    expect(() => mlp(0, [{ units: 4 }])).toThrow(/mlp input size must be an integer >= 1, got 0/);
    expect(() => mlp(4, [{ units: 4 }], { seed: NaN })).toThrow(
      /mlp seed must be a finite number, got NaN/,
    );
    expect(() => mlp(4, [{ units: 4, norm: 'bn' }], { batchNorm: { momentum: 2 } })).toThrow(
      /batchNorm.momentum .* got 2/,
    );
    expect(() => localMlp(4, [{ units: 0 }])).toThrow(
      /localMlp: specs\[0\]\.units must be an integer >= 1, got 0/,
    );
  });
});

describe('the BatchNorm layer (options.batchNormLayer)', () => {
  it("is tfjs's by default and @ediy/backbones' FastBatchNormalization with 'fast': same weights and results", () => {
    for (const build of [mlp, localMlp]) {
      const slow = build(5, HEAD, { name: 'h', seed: 6 });
      const fast = build(5, HEAD, { name: 'h', seed: 6, batchNormLayer: 'fast' });
      expect(slow.getLayer('h_0_bn')).not.toBeInstanceOf(FastBatchNormalization);
      expect(fast.getLayer('h_0_bn')).toBeInstanceOf(FastBatchNormalization);
      const names = (m: tfl.LayersModel) => m.weights.map((w) => [w.originalName, w.shape]);
      expect(names(fast)).toEqual(names(slow));
      const x = tf.randomNormal(build === mlp ? [6, 5] : [2, 3, 3, 5], 0, 1, 'float32', 7);
      for (const training of [true, false]) {
        const a = slow.apply(x, { training }) as tf.Tensor;
        const b = fast.apply(x, { training }) as tf.Tensor;
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
        expect(diff, `${build.name} training ${training}`).toBeLessThan(1e-4);
        tf.dispose([a, b]);
      }
      slow.getWeights().forEach((w, i) => {
        const d = tf.tidy(() => tf.max(tf.abs(tf.sub(w, fast.getWeights()[i]!))).dataSync()[0]);
        expect(d).toBeLessThan(1e-6); // the moving statistics moved alike too
      });
      tf.dispose(x);
      slow.dispose();
      fast.dispose();
    }
  });

  it('refuses another value, naming it', () => {
    expect(() => mlp(5, HEAD, { batchNormLayer: 'quick' as 'fast' })).toThrow(
      `mlp: batchNormLayer must be 'tfjs' or 'fast', got "quick"`,
    );
  });
});
