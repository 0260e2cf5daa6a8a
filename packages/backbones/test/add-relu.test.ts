import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveToMemory } from './helpers.js';
import { initBackend, nativeEngineStatus } from '@ediy/backend';
import { ADD_RELU_KERNEL, AddReLU, addReLU, addRelu } from '@ediy/backbones';

// Plain wasm computes tf.relu(tf.add(a, b)); the native engine one kernel.
const BACKENDS = (await nativeEngineStatus()).available ? ['wasm', 'native'] : ['wasm'];

/** The bits of a float32 tensor (NaN and -0 compared exactly). */
function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(new Float32Array(t.dataSync()).buffer));
}

describe.each(BACKENDS)('addRelu on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ prefer: backend as 'wasm' | 'native' });
  });

  it('gives the bits of tf.relu(tf.add(a, b)), NaN and -0 included, in one kernel on native', async () => {
    const av = Array.from(tf.randomNormal([2, 5, 5, 3], 0, 1, 'float32', 1).dataSync());
    const bv = Array.from(tf.randomNormal([2, 5, 5, 3], 0, 1, 'float32', 2).dataSync());
    av[0] = Number.NaN;
    [av[1], bv[1]] = [-0, -0];
    [av[2], bv[2]] = [0.5, -0.5];
    const a = tf.tensor4d(av, [2, 5, 5, 3]);
    const b = tf.tensor4d(bv, [2, 5, 5, 3]);
    const want = tf.relu(tf.add(a, b));
    const profile = await tf.profile(() => addRelu(a, b));
    const got = profile.result as tf.Tensor;
    expect(bits(got)).toEqual(bits(want));
    expect(Number.isNaN(got.dataSync()[0])).toBe(true);
    expect(Object.is(got.dataSync()[1], 0)).toBe(true);
    expect(profile.kernels.map((k) => k.name)).toEqual(
      backend === 'native' ? [ADD_RELU_KERNEL] : ['Add', 'Relu'],
    );
    tf.dispose([a, b, want, got]);
  });

  it("gives both inputs tfjs's gradients, bit for bit, also for x + x, and leaks nothing", () => {
    const a = tf.randomNormal([3, 4, 4, 2], 0, 1, 'float32', 3);
    const b = tf.randomNormal([3, 4, 4, 2], 0, 1, 'float32', 4);
    const w = tf.randomNormal([3, 4, 4, 2], 0, 1, 'float32', 5);
    const loss = (f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(f(x, y), w));
    const before = tf.memory().numTensors;
    const got = tf.grads(loss(addRelu))([a, b]);
    const want = tf.grads(loss((x, y) => tf.relu(tf.add(x, y))))([a, b]);
    got.forEach((g, i) => expect(bits(g)).toEqual(bits(want[i]!)));
    // The ReLU masked some of the gradient.
    expect(tf.tidy(() => tf.sum(tf.equal(got[0]!, 0)).dataSync()[0])).toBeGreaterThan(0);
    const self = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(addRelu(x, x), w)))(a);
    const selfWant = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.relu(tf.add(x, x)), w)))(a);
    expect(bits(self)).toEqual(bits(selfWant));
    tf.dispose([...got, ...want, self, selfWant]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, w]);
  });

  it('broadcasts as tfjs where the shapes differ', () => {
    const a = tf.randomNormal([2, 3], 0, 1, 'float32', 6);
    const b = tf.tensor1d([0.5, -1, 2]);
    const got = addRelu(a, b);
    expect(bits(got)).toEqual(bits(tf.relu(tf.add(a, b))));
    tf.dispose([a, b, got]);
  });

  it('as a layer: the Add and ReLU layers in one, saved and loaded, and a shape mismatch named', async () => {
    const x = tfl.input({ shape: [4, 4, 3] });
    const y = tfl.input({ shape: [4, 4, 3] });
    const model = tfl.model({
      inputs: [x, y],
      outputs: addReLU({ name: 'block.relu' }).apply([x, y]) as tfl.SymbolicTensor,
    });
    const saved = await saveToMemory(model);
    expect(JSON.stringify(saved.modelTopology)).toContain('"class_name":"AddReLU"');
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved));
    expect(loaded.getLayer('block.relu')).toBeInstanceOf(AddReLU);
    const a = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 7);
    const b = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 8);
    const out = loaded.predict([a, b]) as tf.Tensor;
    expect(bits(out)).toEqual(bits(tf.relu(tf.add(a, b))));
    tf.dispose([a, b, out]);
    model.dispose();
    loaded.dispose();
    const z = tfl.input({ shape: [4, 4, 5] });
    expect(() => addReLU({ name: 'bad' }).apply([x, z])).toThrow(
      `AddReLU 'bad': the inputs must have one shape, got [null,4,4,3] and [null,4,4,5]`,
    );
  });
});
