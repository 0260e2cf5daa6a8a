import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, nativeEngineStatus } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { nativeKernelStats, resetNativeKernelStats } from '@ediy/backend-native';
import { expectClose, initBoth, randomValues, runOn } from './kernels-helpers.js';

type Params = Record<string, tf.Tensor>;

const SHAPES: Record<string, number[]> = {
  stem: [3, 3, 3, 8],
  b1c1: [3, 3, 8, 8],
  b1c2: [3, 3, 8, 8],
  b2c1: [3, 3, 8, 16],
  b2c2: [3, 3, 16, 16],
  b2sc: [1, 1, 8, 16],
  dense: [16, 5],
  bias: [5],
  prototypes: [5, 16],
};
const NAMES = Object.keys(SHAPES);

function initialValues(rng: Rng): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const name of NAMES) {
    const shape = SHAPES[name] as number[];
    const fanIn =
      shape.length === 4
        ? (shape[0] as number) * (shape[1] as number) * (shape[2] as number)
        : (shape[0] as number);
    out[name] = randomValues(rng, shape).map((v) => v * Math.sqrt(2 / fanIn));
  }
  return out;
}

/** Batch norm with batch statistics (tf.moments), no affine part. */
function bn(x: tf.Tensor4D): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [0, 1, 2], true);
  return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5)));
}

const conv = (x: tf.Tensor4D, w: tf.Tensor, stride: number) =>
  tf.conv2d(x, w as tf.Tensor4D, stride, 'same');

/** A two-block ResNet (one strided block with a 1x1 shortcut), mean pool, dense head and a gathered prototype term. */
function loss(p: Params, images: tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar {
  const g = (k: string) => p[k] as tf.Tensor;
  let h = tf.relu(bn(conv(images, g('stem'), 1)));
  const r1 = bn(conv(tf.relu(bn(conv(h, g('b1c1'), 1))), g('b1c2'), 1));
  h = tf.relu(tf.add(h, r1) as tf.Tensor4D);
  const r2 = bn(conv(tf.relu(bn(conv(h, g('b2c1'), 2))), g('b2c2'), 1));
  h = tf.relu(tf.add(bn(conv(h, g('b2sc'), 2)), r2) as tf.Tensor4D);
  const features = tf.mean(h, [1, 2]) as tf.Tensor2D;
  const logits = tf.add(tf.matMul(features, g('dense') as tf.Tensor2D), g('bias'));
  const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 5), logits);
  const pull = tf.mean(tf.square(tf.sub(features, tf.gather(g('prototypes'), labels))));
  return tf.add(ce, pull) as tf.Scalar;
}

describe('training a small ResNet on wasm', () => {
  beforeAll(initBoth);

  const rng = new Rng(2024);
  const values = initialValues(rng);
  const imageValues = randomValues(rng, [4, 8, 8, 3]);
  const labelValues = Int32Array.from([0, 3, 3, 1]);

  const make = () => {
    const params: Params = {};
    for (const name of NAMES) params[name] = tf.tensor(values[name] as Float32Array, SHAPES[name]);
    return {
      params,
      images: tf.tensor4d(imageValues, [4, 8, 8, 3]),
      labels: tf.tensor1d(labelValues, 'int32'),
    };
  };

  it('tf.grads equal the cpu backend', async () => {
    const grads = () => {
      const { params, images, labels } = make();
      const list = NAMES.map((n) => params[n] as tf.Tensor);
      const fn = tf.grads((...ps: tf.Tensor[]) => {
        const p: Params = {};
        NAMES.forEach((n, i) => (p[n] = ps[i] as tf.Tensor));
        return loss(p, images, labels);
      });
      return fn(list);
    };
    const want = await runOn('cpu', grads);
    const got = await runOn('wasm', grads);
    NAMES.forEach((name, i) =>
      expectClose(got[i] as Float32Array, want[i] as Float32Array, 1e-4, `d loss / d ${name}`),
    );
  });

  it('gradient steps lower the loss and leak no tensors', async () => {
    await tf.setBackend('wasm');
    const { params, images, labels } = make();
    const vars: Record<string, tf.Variable> = {};
    for (const name of NAMES)
      vars[name] = tf.variable(params[name] as tf.Tensor, true, `resnet-${name}`);
    tf.dispose(Object.values(params));
    const lr = 0.05;
    const step = (): number =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => loss(vars, images, labels));
        for (const name of NAMES) {
          const v = vars[name] as tf.Variable;
          v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, lr)));
        }
        return value.dataSync()[0] as number;
      });
    const first = step();
    const tensorsAfterFirst = tf.memory().numTensors;
    const dataIdsAfterFirst = tf.engine().backend.numDataIds();
    let last = first;
    for (let i = 0; i < 5; i++) last = step();
    expect(Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first);
    expect(tf.memory().numTensors).toBe(tensorsAfterFirst);
    expect(tf.engine().backend.numDataIds()).toBe(dataIdsAfterFirst);
    tf.dispose([images, labels, ...Object.values(vars)]);
  });
});

const native = await nativeEngineStatus();

describe.runIf(native.available)('training a small ResNet on the native engine', () => {
  beforeAll(initBoth);

  const rng = new Rng(7);
  const values = initialValues(rng);
  const imageValues = randomValues(rng, [4, 8, 8, 3]);
  const labelValues = Int32Array.from([1, 0, 4, 1]);
  const grads = () => {
    const params = NAMES.map((n) => tf.tensor(values[n] as Float32Array, SHAPES[n]));
    const images = tf.tensor4d(imageValues, [4, 8, 8, 3]);
    const labels = tf.tensor1d(labelValues, 'int32');
    return tf.grads((...ps: tf.Tensor[]) => {
      const p: Params = {};
      NAMES.forEach((n, i) => (p[n] = ps[i] as tf.Tensor));
      return loss(p, images, labels);
    })(params);
  };

  it('tf.grads equal the plain wasm path and the cpu backend, with the convs run by oneDNN', async () => {
    const want = await runOn('cpu', grads);
    await initBackend({ prefer: 'wasm' });
    const plain = await runOn('wasm', grads);
    const info = await initBackend({ prefer: 'native', threads: 2 });
    expect(info.engine).toMatch(/^wasm \+ oneDNN \d+\.\d+\.\d+ \(2 threads, /);
    resetNativeKernelStats();
    const got = await runOn('wasm', grads);
    const stats = nativeKernelStats();
    // Six convs, all in oneDNN: the strided 1x1 shortcut (a negative end padding) runs on
    // a dense copy of the rows it reads.
    expect(stats.native.Conv2D).toBeGreaterThanOrEqual(6);
    expect(stats.native.Conv2DBackpropInput).toBeGreaterThanOrEqual(5);
    expect(stats.native.Conv2DBackpropFilter).toBe(6);
    expect(Object.keys(stats.fallback).filter((k) => k.startsWith('Conv2D'))).toEqual([]);
    NAMES.forEach((name, i) => {
      expectClose(
        got[i] as Float32Array,
        plain[i] as Float32Array,
        1e-4,
        `native vs wasm d/d ${name}`,
      );
      expectClose(
        got[i] as Float32Array,
        want[i] as Float32Array,
        1e-4,
        `native vs cpu d/d ${name}`,
      );
    });
    await initBackend({ prefer: 'wasm' });
  });
});
