import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import {
  BN_EPSILON,
  BN_MOMENTUM,
  featureChannels,
  outputStride,
  resnet,
  resolveResNetConfig,
  trainableParameterCount,
} from '@ediy/backbones';
import type { ResNetConfig } from '@ediy/backbones';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

describe('config', () => {
  it('gives the layer4 channels and output stride', () => {
    expect(featureChannels({ depth: 18, stem: 'imagenet' })).toBe(512);
    expect(featureChannels({ depth: 34, stem: 'small' })).toBe(512);
    expect(featureChannels({ depth: 50, stem: 'imagenet' })).toBe(2048);
    expect(featureChannels({ depth: 50, stem: 'small', widthMultiplier: 1 / 16 })).toBe(4 * 8 * 4);
    expect(featureChannels({ depth: 18, stem: 'small', widthMultiplier: 0.5 })).toBe(256);
    expect(outputStride({ depth: 18, stem: 'imagenet' })).toBe(32);
    expect(outputStride({ depth: 50, stem: 'small' })).toBe(8);
  });

  it('rejects bad configs naming the field', () => {
    const bad = (c: unknown) => () => resolveResNetConfig(c as ResNetConfig);
    expect(bad({ depth: 101, stem: 'imagenet' })).toThrow(
      /config\.depth must be 18, 34 or 50, got 101/,
    );
    expect(bad({ depth: 18, stem: 'cifar' })).toThrow(
      /config\.stem must be 'imagenet' or 'small', got "cifar"/,
    );
    expect(bad({ depth: 18, stem: 'small', widthMultiplier: 0 })).toThrow(
      /widthMultiplier must be a finite number > 0, got 0/,
    );
    expect(bad({ depth: 18, stem: 'small', widthMultiplier: NaN })).toThrow(
      /widthMultiplier.*got NaN/,
    );
    expect(bad({ depth: 18, stem: 'small', widthMultiplier: 0.005 })).toThrow(
      /base width round\(64 \* 0\.005\) = 0/,
    );
    expect(bad({ depth: 18, stem: 'small', inputShape: [32, 32, 1] })).toThrow(
      /inputShape must be .*got \[32,32,1\]/,
    );
    expect(bad({ depth: 18, stem: 'small', inputShape: [0, 32, 3] })).toThrow(/inputShape/);
    expect(bad({ depth: 18, stem: 'small', seed: 1.5 })).toThrow(
      /seed must be an integer, got 1\.5/,
    );
    expect(bad({ depth: 18, stem: 'small', name: 'a b' })).toThrow(/name must match/);
  });
});

describe('parameter count (conv weights + BN gamma/beta, as torchvision without fc)', () => {
  it.each([
    [18, 11_176_512],
    [34, 21_284_672],
    [50, 23_508_032],
  ] as const)('ResNet-%i has %i', (depth, count) => {
    const model = resnet({ depth, stem: 'imagenet', inputShape: [32, 32, 3] });
    expect(trainableParameterCount(model)).toBe(count);
    // BN moving statistics (2 per channel) are weights but not trainable.
    const bnChannels = model.layers
      .filter((l) => l.getClassName() === 'BatchNormalization')
      .reduce((n, l) => n + (l.getWeights()[0]!.shape[0] as number), 0);
    expect(model.countParams()).toBe(count + 2 * bnChannels);
    model.dispose();
  });
});

describe('resnet', () => {
  const small: ResNetConfig = { depth: 18, stem: 'small', widthMultiplier: 1 / 16 };

  it('outputs the layer4 map and its global average, ceil(H / stride) cells', () => {
    const cases: [ResNetConfig, number, number][] = [
      [small, 20, 17],
      [{ depth: 50, stem: 'imagenet', widthMultiplier: 1 / 32 }, 48, 40],
      [{ depth: 34, stem: 'imagenet', widthMultiplier: 1 / 32 }, 33, 64],
    ];
    for (const [config, h, w] of cases) {
      const model = resnet(config);
      const x = tf.randomNormal([2, h, w, 3], 0, 1, 'float32', 3);
      const [map, pooled] = model.predict(x) as tf.Tensor[];
      const s = outputStride(config);
      const c = featureChannels(config);
      expect(map!.shape).toEqual([2, Math.ceil(h / s), Math.ceil(w / s), c]);
      expect(pooled!.shape).toEqual([2, c]);
      const mean = tf.mean(map!, [1, 2]);
      expect(relClose(mean.dataSync(), pooled!.dataSync())).toBe(true);
      tf.dispose([x, map!, pooled!, mean]);
      model.dispose();
    }
  });

  it('names layers after torchvision modules', () => {
    const model = resnet({ depth: 50, stem: 'imagenet', widthMultiplier: 1 / 32 });
    const names = new Set(model.layers.map((l) => l.name));
    for (const n of [
      'conv1',
      'bn1',
      'maxpool',
      'layer1.0.conv3',
      'layer1.0.downsample.0',
      'layer1.0.downsample.1',
      'layer4.2.bn3',
      'avgpool',
    ]) {
      expect(names.has(n), n).toBe(true);
    }
    expect(names.has('layer1.1.downsample.0')).toBe(false);
    // v1.5: the bottleneck stride is on the 3x3 conv.
    const conv2 = model.getLayer('layer2.0.conv2').getConfig();
    const conv1 = model.getLayer('layer2.0.conv1').getConfig();
    expect(conv2['strides']).toEqual([2, 2]);
    expect(conv1['strides']).toEqual([1, 1]);
    expect(model.outputNames).toEqual(['layer4.2.relu', 'avgpool']);
    model.dispose();
  });

  it('initialises from the seed: same seed same weights, another seed other weights', () => {
    const a = resnet({ ...small, seed: 7 });
    const b = resnet({ ...small, seed: 7 });
    const c = resnet({ ...small, seed: 8 });
    const flat = (m: tfl.LayersModel) => m.getWeights().flatMap((w) => Array.from(w.dataSync()));
    const wa = flat(a);
    expect(flat(b)).toEqual(wa);
    expect(flat(c)).not.toEqual(wa);
    a.dispose();
    b.dispose();
    c.dispose();
  });

  it('draws conv kernels with variance 2 / fan_out (kaiming_normal_, fan_out) and BN at 1, 0, 0, 1', () => {
    const model = resnet({ depth: 18, stem: 'imagenet', seed: 3 });
    const k = model.getLayer('layer4.0.conv2').getWeights()[0]!; // 3x3x512x512
    const v = k.dataSync();
    let ss = 0;
    for (const x of v) ss += x * x;
    const variance = ss / v.length;
    const expected = 2 / (3 * 3 * 512);
    expect(Math.abs(variance / expected - 1)).toBeLessThan(0.02);
    const bn = model
      .getLayer('layer4.0.bn2')
      .getWeights()
      .map((w) => Array.from(w.dataSync()));
    expect(bn.map((w) => [Math.min(...w), Math.max(...w)])).toEqual([
      [1, 1],
      [0, 0],
      [0, 0],
      [1, 1],
    ]);
    model.dispose();
  });

  it('does not leak tensors across predictions', () => {
    const model = resnet(small);
    const x = tf.randomNormal([1, 16, 16, 3], 0, 1, 'float32', 1);
    tf.dispose(model.predict(x) as tf.Tensor[]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.dispose(model.predict(x) as tf.Tensor[]);
      tf.dispose(model.apply(x, { training: true }) as tf.Tensor[]);
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });
});

function relClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): boolean {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i] as number));
  for (let i = 0; i < a.length; i++)
    if (Math.abs((a[i] as number) - (b[i] as number)) > tol * scale) return false;
  return a.length === b.length;
}

describe('BatchNormalization modes', () => {
  const config: ResNetConfig = { depth: 18, stem: 'small', widthMultiplier: 1 / 16, seed: 2 };

  /** Per-channel mean and biased variance of an NHWC tensor, by hand. */
  function channelStats(t: tf.Tensor): { mean: number[]; variance: number[] } {
    const c = t.shape[3] as number;
    const d = t.dataSync();
    const n = d.length / c;
    const mean = new Array<number>(c).fill(0);
    const variance = new Array<number>(c).fill(0);
    for (let i = 0; i < d.length; i++) mean[i % c]! += (d[i] as number) / n;
    for (let i = 0; i < d.length; i++)
      variance[i % c]! += ((d[i] as number) - mean[i % c]!) ** 2 / n;
    return { mean, variance };
  }

  function conv1Output(model: tfl.LayersModel, x: tf.Tensor): tf.Tensor {
    const sub = tfl.model({
      inputs: model.inputs,
      outputs: model.getLayer('conv1').output as tfl.SymbolicTensor,
    });
    return sub.predict(x) as tf.Tensor;
  }

  it('training: normalises with batch statistics and moves the moving stats by momentum 0.9 (PyTorch 0.1)', () => {
    const model = resnet(config);
    const x = tf.randomNormal([2, 8, 8, 3], 0.5, 2, 'float32', 11);
    const conv = conv1Output(model, x);
    const { mean, variance } = channelStats(conv);
    const bn1 = model.getLayer('bn1');
    // Known moving stats before the step.
    const c = mean.length;
    const m0 = Array.from({ length: c }, (_, i) => 0.1 * i);
    const v0 = Array.from({ length: c }, (_, i) => 1 + 0.5 * i);
    bn1.setWeights([tf.ones([c]), tf.zeros([c]), tf.tensor1d(m0), tf.tensor1d(v0)]);

    const sub = tfl.model({ inputs: model.inputs, outputs: bn1.output as tfl.SymbolicTensor });
    const yTrain = sub.apply(x, { training: true }) as tf.Tensor;
    const got = channelStats(yTrain);
    for (let i = 0; i < c; i++) {
      expect(got.mean[i]).toBeCloseTo(0, 4);
      expect(got.variance[i]).toBeCloseTo(variance[i]! / (variance[i]! + BN_EPSILON), 4);
    }
    const [, , mm, mv] = bn1.getWeights().map((w) => Array.from(w.dataSync()));
    for (let i = 0; i < c; i++) {
      expect(mm![i]).toBeCloseTo(BN_MOMENTUM * m0[i]! + (1 - BN_MOMENTUM) * mean[i]!, 5);
      expect(mv![i]).toBeCloseTo(0.9 * v0[i]! + 0.1 * variance[i]!, 4);
    }
    tf.dispose([x, conv, yTrain]);
    model.dispose();
  });

  it('inference (predict, apply without training): uses the moving stats and changes nothing', () => {
    const model = resnet(config);
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 12);
    const conv = conv1Output(model, x);
    const bn1 = model.getLayer('bn1');
    const c = conv.shape[3] as number;
    const gamma = Array.from({ length: c }, (_, i) => 1 + i);
    const beta = Array.from({ length: c }, (_, i) => -0.5 * i);
    const mm = Array.from({ length: c }, (_, i) => 0.2 * i - 0.1);
    const mv = Array.from({ length: c }, (_, i) => 0.5 + i);
    bn1.setWeights([tf.tensor1d(gamma), tf.tensor1d(beta), tf.tensor1d(mm), tf.tensor1d(mv)]);
    const sub = tfl.model({ inputs: model.inputs, outputs: bn1.output as tfl.SymbolicTensor });
    const cd = conv.dataSync();
    const want = Float32Array.from(cd, (v, i) => {
      const ch = i % c;
      return ((v - mm[ch]!) / Math.sqrt(mv[ch]! + BN_EPSILON)) * gamma[ch]! + beta[ch]!;
    });
    const yPredict = sub.predict(x) as tf.Tensor;
    const yApply = sub.apply(x, { training: false }) as tf.Tensor;
    expect(relClose(yPredict.dataSync(), want)).toBe(true);
    expect(relClose(yApply.dataSync(), want)).toBe(true);
    const after = bn1.getWeights().map((w) => Array.from(w.dataSync()));
    expect(after[2]).toEqual(Array.from(Float32Array.from(mm)));
    expect(after[3]).toEqual(Array.from(Float32Array.from(mv)));
    tf.dispose([x, conv, yPredict, yApply]);
    model.dispose();
  });

  it('updates moving stats inside a gradient computation too (a training step)', () => {
    const model = resnet(config);
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 13);
    const before = model.getLayer('layer4.1.bn2').getWeights()[2]!.dataSync().slice();
    const { value, grads } = tf.variableGrads(() => {
      const [, pooled] = model.apply(x, { training: true }) as tf.Tensor[];
      return tf.sum(tf.square(pooled!));
    });
    expect(Object.keys(grads).length).toBe(model.trainableWeights.length);
    const after = model.getLayer('layer4.1.bn2').getWeights()[2]!.dataSync();
    expect(Array.from(after)).not.toEqual(Array.from(before));
    tf.dispose([x, value, ...Object.values(grads)]);
    model.dispose();
  });
});
