import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
// The trainer's and the losses' own pieces of a training step, checked on webgpu here
// (they depend on this package, not the other way round: read, not imported as packages).
import { batchNormTraining, channelAffine } from '../../trainer/src/batchnorm.js';
import { stopGradient } from '../../losses/src/stop-gradient.js';
import { expectClose, randomValues, runOn } from './kernels-helpers.js';
import { findTestAdapter } from './webgpu-helpers.js';

const { skip } = await findTestAdapter();

type Params = Record<string, tf.Tensor>;

const SHAPES: Record<string, number[]> = {
  stem: [3, 3, 3, 8],
  b1c1: [3, 3, 8, 8],
  b1c2: [3, 3, 8, 8],
  b2c1: [3, 3, 8, 16],
  b2c2: [3, 3, 16, 16],
  b2sc: [1, 1, 8, 16],
  gamma8: [8],
  beta8: [8],
  gamma16: [16],
  beta16: [16],
  dense: [16, 5],
  bias: [5],
  prototypes: [5, 16],
};
const NAMES = Object.keys(SHAPES);

function initialValues(rng: Rng): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const name of NAMES) {
    const shape = SHAPES[name] as number[];
    if (name.startsWith('gamma')) out[name] = randomValues(rng, shape).map((v) => 1 + 0.1 * v);
    else if (name.startsWith('beta')) out[name] = randomValues(rng, shape).map((v) => 0.1 * v);
    else {
      const fanIn = shape.length === 4 ? shape[0]! * shape[1]! * shape[2]! : shape[0]!;
      out[name] = randomValues(rng, shape).map((v) => v * Math.sqrt(2 / fanIn));
    }
  }
  return out;
}

type Norm = 'moments' | 'trainer';

/** Batch norm two ways: tf.moments (tfjs-layers' path) or the trainer's fast custom-gradient one. */
function bn(x: tf.Tensor4D, p: Params, c: 8 | 16, how: Norm): tf.Tensor4D {
  const gamma = p[`gamma${c}`] as tf.Tensor1D;
  const beta = p[`beta${c}`] as tf.Tensor1D;
  if (how === 'trainer') {
    const { y, mean, variance } = batchNormTraining(x, gamma, beta, 1e-5);
    tf.dispose([mean, variance]);
    return y as tf.Tensor4D;
  }
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, mean, variance, beta, gamma, 1e-5) as tf.Tensor4D;
}

const conv = (x: tf.Tensor4D, w: tf.Tensor, stride: number) =>
  tf.conv2d(x, w as tf.Tensor4D, stride, 'same');

/** A two-block ResNet, mean pool, dense head, a prototype pull through a stop-gradient target. */
function loss(p: Params, images: tf.Tensor4D, labels: tf.Tensor1D, how: Norm): tf.Scalar {
  const g = (k: string) => p[k] as tf.Tensor;
  let h = tf.relu(bn(conv(images, g('stem'), 1), p, 8, how));
  const r1 = bn(conv(tf.relu(bn(conv(h, g('b1c1'), 1), p, 8, how)), g('b1c2'), 1), p, 8, how);
  h = tf.relu(tf.add(h, r1) as tf.Tensor4D);
  const r2 = bn(conv(tf.relu(bn(conv(h, g('b2c1'), 2), p, 16, how)), g('b2c2'), 1), p, 16, how);
  h = tf.relu(tf.add(bn(conv(h, g('b2sc'), 2), p, 16, how), r2) as tf.Tensor4D);
  const features = tf.mean(h, [1, 2]) as tf.Tensor2D;
  const logits = tf.add(tf.matMul(features, g('dense') as tf.Tensor2D), g('bias'));
  const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 5), logits);
  const target = stopGradient(tf.gather(g('prototypes'), labels));
  const unit = (t: tf.Tensor) => tf.div(t, tf.sqrt(tf.sum(tf.square(t), -1, true)));
  const pull = tf.mean(tf.sum(tf.mul(unit(features), unit(target)), -1));
  return tf.sub(ce, pull) as tf.Scalar;
}

describe.skipIf(skip !== undefined)('training a small ResNet on webgpu', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
    await initBackend({ prefer: 'webgpu' });
  });

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

  const gradsOf = (how: Norm) => () => {
    const { params, images, labels } = make();
    const fn = tf.grads((...ps: tf.Tensor[]) => {
      const p: Params = {};
      NAMES.forEach((n, i) => (p[n] = ps[i] as tf.Tensor));
      return loss(p, images, labels, how);
    });
    return fn(NAMES.map((n) => params[n] as tf.Tensor));
  };

  for (const how of ['moments', 'trainer'] as const) {
    it(`tf.grads equal the cpu backend (batch norm by ${how === 'moments' ? 'tf.moments' : "the trainer's batchNormTraining"})`, async () => {
      const want = await runOn('cpu', gradsOf(how));
      const got = await runOn('webgpu', gradsOf(how));
      NAMES.forEach((name, i) => {
        if (name === 'prototypes') {
          // the stop-gradient target gives the prototypes no gradient, on both backends
          expect(Math.max(...Array.from(got[i]!, Math.abs))).toBe(0);
          expect(Math.max(...Array.from(want[i]!, Math.abs))).toBe(0);
        } else {
          expectClose(got[i] as Float32Array, want[i] as Float32Array, 1e-4, `d loss / d ${name}`);
        }
      });
    });
  }

  it("the trainer's channelAffine and batch statistics equal cpu", async () => {
    const r = new Rng(5);
    const xv = randomValues(r, [3, 6, 6, 8]);
    const sv = randomValues(r, [8]);
    const bv = randomValues(r, [8]);
    const f = () => {
      const x = tf.tensor4d(xv, [3, 6, 6, 8]);
      const s = tf.tensor1d(sv);
      const b = tf.tensor1d(bv);
      const { y, mean, variance } = batchNormTraining(x, s, b, 1e-3);
      return [channelAffine(x, s, b), y, mean, variance];
    };
    const want = await runOn('cpu', f);
    const got = await runOn('webgpu', f);
    want.forEach((w, i) => expectClose(got[i] as Float32Array, w, 1e-4, `output ${i}`));
  });

  it('gradient steps lower the loss and leak neither tensors nor GPU buffers', async () => {
    await tf.setBackend('webgpu');
    const { params, images, labels } = make();
    const vars: Record<string, tf.Variable> = {};
    for (const name of NAMES)
      vars[name] = tf.variable(params[name] as tf.Tensor, true, `wg-${name}`);
    tf.dispose(Object.values(params));
    const step = async (): Promise<number> => {
      const value = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => loss(vars, images, labels, 'trainer'));
        for (const name of NAMES) {
          const v = vars[name] as tf.Variable;
          v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, 0.05)));
        }
        return value;
      });
      const out = (await value.data())[0] as number;
      value.dispose();
      return out;
    };
    const gpu = () => {
      const backend = tf.backend() as unknown as {
        numDataIds(): number;
        bufferManager: { getNumUsedBuffers(): number };
      };
      const memory = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      return {
        tensors: memory.numTensors,
        dataIds: backend.numDataIds(),
        usedBuffers: backend.bufferManager.getNumUsedBuffers(),
        bytesInGPU: memory.numBytesInGPU,
      };
    };
    const first = await step();
    await step();
    const after = gpu();
    let last = first;
    for (let i = 0; i < 6; i++) last = await step();
    expect(Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first);
    expect(gpu()).toEqual(after);
    expect(after.bytesInGPU).toBeGreaterThan(0);
    tf.dispose([images, labels, ...Object.values(vars)]);
  });
});
