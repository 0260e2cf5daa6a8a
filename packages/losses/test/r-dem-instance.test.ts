import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradient functions; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { rDemInstanceLoss } from '@ediy/losses';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

const S = Math.SQRT1_2;
// B=2 images, 1x2 maps, other = [1, 0]
// l1: image0 (1,0) (0,1); image1 (1,1) (1,-1)
// l2: image0 (0,1) (0,1); image1 (1,0) (0,-1)
const l1 = () => tf.tensor4d([1, 0, 0, 1, 1, 1, 1, -1], [2, 1, 2, 2]);
const l2 = () => tf.tensor4d([0, 1, 0, 1, 1, 0, 0, -1], [2, 1, 2, 2]);
const other = () => tf.tensor1d([1, 0], 'int32');

describe('rDemInstanceLoss (Table 1, R-INS)', () => {
  it("'pooled-local': each region against the other image's mean local feature, by hand", () => {
    // pooled l1: image0 (.5,.5), image1 (1,0). View 1: image0's regions vs (1,0): 1, 0;
    //   image1's regions vs (.5,.5): cos((1,1),.) = 1, cos((1,-1),.) = 0 -> mean 0.5
    // pooled l2: image0 (0,1), image1 (.5,-.5). View 2: image0's (0,1),(0,1) vs (.5,-.5): -.70711 twice;
    //   image1's (1,0),(0,-1) vs (0,1): 0, -1 -> mean (-1.41421 - 1)/4 = -.60355
    const v = rDemInstanceLoss([l1(), l2()], other()).dataSync()[0];
    expect(v).toBeCloseTo(0.5 + (-2 * S - 1) / 4, 5);
  });

  it("'global': each region against the other image's global projection, by hand", () => {
    // g1 = image0 (0,1), image1 (1,0); g2 = image0 (1,0), image1 (0,1)
    // View 1: image0's (1,0),(0,1) vs g1[1]=(1,0): 1, 0; image1's (1,1),(1,-1) vs g1[0]=(0,1): .70711, -.70711 -> 0.25
    // View 2: image0's (0,1),(0,1) vs g2[1]=(0,1): 1, 1; image1's (1,0),(0,-1) vs g2[0]=(1,0): 1, 0 -> 0.75
    const g1 = tf.tensor2d([
      [0, 1],
      [1, 0],
    ]);
    const g2 = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    const v = rDemInstanceLoss([l1(), l2()], other(), {
      negative: 'global',
      global: [g1, g2],
    }).dataSync()[0];
    expect(v).toBeCloseTo(1, 5);
  });

  it('is symmetric in the views and lowers region-to-other-image similarity under gradient steps', () => {
    const a = rDemInstanceLoss([l1(), l2()], other()).dataSync()[0] as number;
    const b = rDemInstanceLoss([l2(), l1()], other()).dataSync()[0] as number;
    expect(b).toBeCloseTo(a, 6);
    const x = tf.variable(tf.randomNormal([3, 2, 2, 4], 0, 1, 'float32', 8));
    const o = tf.tensor1d([2, 0, 1], 'int32');
    const loss = () => rDemInstanceLoss([x, x], o);
    const before = loss().dataSync()[0] as number;
    const opt = tf.train.sgd(0.5);
    for (let i = 0; i < 5; i++) opt.minimize(loss);
    expect(loss().dataSync()[0]).toBeLessThan(before - 0.05);
    tf.dispose([x, o]);
    opt.dispose();
  });

  it('rejects a missing global feature, bad options and mismatched shapes', () => {
    expect(() => rDemInstanceLoss([l1(), l2()], other(), { negative: 'global' })).toThrow(
      /needs options.global/,
    );
    // @ts-expect-error not a negative kind
    expect(() => rDemInstanceLoss([l1(), l2()], other(), { negative: 'queue' })).toThrow(
      /'pooled-local' or 'global', got "queue"/,
    );
    expect(() => rDemInstanceLoss([l1(), l2()], tf.tensor1d([1, 0, 0], 'int32'))).toThrow(
      /other has B=3/,
    );
    expect(() => rDemInstanceLoss([l1(), l2()], tf.tensor1d([1, 1], 'int32'))).toThrow(
      /other\[1\] = 1/,
    );
    const g = tf.ones([2, 3]) as tf.Tensor2D;
    expect(() =>
      rDemInstanceLoss([l1(), l2()], other(), { negative: 'global', global: [g, g] }),
    ).toThrow(/global\[0\] .*C/);
    expect(() =>
      rDemInstanceLoss([tf.ones([1, 1, 2, 2]), tf.ones([1, 1, 2, 2])], tf.tensor1d([0], 'int32')),
    ).toThrow(/at least 2 images, got B=1/);
  });

  it('does not leak tensors', () => {
    const [a, b, o] = [l1(), l2(), other()];
    const before = tf.memory().numTensors;
    rDemInstanceLoss([a, b], o).dispose();
    tf.grads((x: tf.Tensor, y: tf.Tensor) => rDemInstanceLoss([x, y], o))([a, b]).forEach((g) =>
      g.dispose(),
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
