import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { localMlp, mlp } from '@ediy/projectors';
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

function expectClose(a: tf.Tensor, b: tf.Tensor, digits = 4): void {
  expect(a.shape).toEqual(b.shape);
  const bv = values(b);
  values(a).forEach((v, i) => expect(v).toBeCloseTo(bv[i] as number, digits));
}

describe('localMlp', () => {
  it('maps [B, H, W, C] to [B, H, W, out] for any H and W', () => {
    const model = localMlp(5, HEAD, { seed: 1 });
    expect(model.inputs[0]?.shape).toEqual([null, null, null, 5]);
    for (const [h, w] of [
      [2, 3],
      [4, 4],
      [1, 7],
    ] as const) {
      const x = tf.randomNormal([2, h, w, 5], 0, 1, 'float32', h * 10 + w);
      const y = model.predict(x) as tf.Tensor;
      expect(y.shape).toEqual([2, h, w, 3]);
      tf.dispose([x, y]);
    }
    expect(model.layers.map((l) => l.getClassName())).toEqual([
      'InputLayer',
      'Conv2D',
      'BatchNormalization',
      'ReLU',
      'Conv2D',
    ]);
    model.dispose();
  });

  it('equals the global MLP applied to every pixel, given the same weights (random specs, both BN modes)', () => {
    const rng = new Rng(11);
    for (let trial = 0; trial < 4; trial++) {
      const c = 1 + rng.int(5);
      const specs: LayerSpec[] = Array.from({ length: 1 + rng.int(3) }, () => ({
        units: 1 + rng.int(6),
        norm: rng.bernoulli(0.5) ? 'bn' : 'none',
        act: rng.bernoulli(0.5) ? 'relu' : 'none',
        bias: rng.bernoulli(0.7),
      }));
      const [b, h, w] = [1 + rng.int(3), 1 + rng.int(4), 1 + rng.int(4)];
      const local = localMlp(c, specs, { seed: rng.seed() });
      const global = mlp(c, specs, { seed: rng.seed() }); // different init ...
      // ... then the local weights copied in: a 1x1 kernel [1,1,C,U] is a Dense kernel [C,U].
      global.setWeights(
        local.getWeights().map((t) => (t.rank === 4 ? tf.reshape(t, t.shape.slice(2)) : t)),
      );
      const x = tf.randomNormal([b, h, w, c], 0, 1, 'float32', rng.seed());
      for (const training of [false, true]) {
        const yl = local.apply(x, { training }) as tf.Tensor;
        const yg = global.apply(tf.reshape(x, [b * h * w, c]), { training }) as tf.Tensor;
        expectClose(yl, tf.reshape(yg, yl.shape));
        tf.dispose([yl, yg]);
      }
      x.dispose();
      local.dispose();
      global.dispose();
    }
  });

  it('starts from the same weights as mlp for the same seed', () => {
    const local = localMlp(4, HEAD, { seed: 21 });
    const global = mlp(4, HEAD, { seed: 21 });
    const lw = local.getWeights();
    const gw = global.getWeights();
    expect(lw.map((t) => t.size)).toEqual(gw.map((t) => t.size));
    lw.forEach((t, i) => expect(values(t)).toEqual(values(gw[i] as tf.Tensor)));
    const again = localMlp(4, HEAD, { seed: 21 });
    expect(values(again.getWeights()[0] as tf.Tensor)).toEqual(values(lw[0] as tf.Tensor));
    [local, global, again].forEach((m) => m.dispose());
  });

  it('takes BatchNorm statistics over B, H and W', () => {
    const model = localMlp(2, [{ units: 3, norm: 'bn' }], { seed: 2 });
    const x = tf.randomNormal([2, 3, 4, 2], 0, 1, 'float32', 9);
    const y = model.apply(x, { training: true }) as tf.Tensor;
    const { mean, variance } = tf.moments(y, [0, 1, 2]);
    values(mean).forEach((m) => expect(m).toBeCloseTo(0, 5));
    values(variance).forEach((v) => expect(v).toBeCloseTo(1, 3));
    tf.dispose([x, y, mean, variance]);
    model.dispose();
  });

  it('names the model and its layers after options.name, and leaves the naming to tfjs-layers without one', () => {
    const named = localMlp(4, HEAD, { name: 'local', seed: 5 });
    expect(named.name).toBe('local');
    expect(named.layers.map((l) => l.name)).toEqual([
      'local_input',
      'local_0_conv',
      'local_0_bn',
      'local_0_relu',
      'local_1_conv',
    ]);
    const unnamed = [localMlp(4, HEAD), mlp(4, HEAD)];
    for (const m of unnamed) {
      expect(m.name).not.toMatch(/undefined/);
      for (const l of m.layers) expect(l.name).not.toMatch(/undefined|^local_|^_/);
    }
    [named, ...unnamed].forEach((m) => m.dispose());
  });

  it('counts 1x1-conv parameters like Dense ones', () => {
    // conv 5*6 + 6 = 36; BN 4*6 = 24; conv 6*3 (no bias) = 18
    const local = localMlp(5, HEAD);
    const global = mlp(5, HEAD);
    expect(local.countParams()).toBe(36 + 24 + 18);
    expect(global.countParams()).toBe(local.countParams());
    local.dispose();
    global.dispose();
  });
});
