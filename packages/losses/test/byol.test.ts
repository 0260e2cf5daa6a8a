import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradient functions; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { byolLoss, regressionLoss, stopGradient } from '@ediy/losses';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

const S = Math.SQRT1_2; // cos 45 degrees = 1/sqrt2 = .70711

describe('regressionLoss and byolLoss (Eq. 2)', () => {
  // p1 = [(1,0), (0,1)], z2 = [(1,1), (0,-2)]: cos = (.70711, -1), mean -.14645 -> 2 - 2(-.14645) = 2.29289
  // p2 = [(3,4), (1,0)], z1 = [(4,3), (2,0)]: cos = (24/25 = .96, 1), mean .98 -> 2 - 1.96 = 0.04
  // Eq. 2: 4 - 2cos(p1,z2) - 2cos(p2,z1), batch mean = 2.29289 + 0.04 = 2.33289
  const p1 = () =>
    tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
  const z2 = () =>
    tf.tensor2d([
      [1, 1],
      [0, -2],
    ]);
  const p2 = () =>
    tf.tensor2d([
      [3, 4],
      [1, 0],
    ]);
  const z1 = () =>
    tf.tensor2d([
      [4, 3],
      [2, 0],
    ]);

  it('matches the hand-computed values', () => {
    const r = regressionLoss(p1(), z2());
    expect(r.dataSync()[0]).toBeCloseTo(2 - 2 * ((S - 1) / 2), 5);
    const r2 = regressionLoss(p2(), z1());
    expect(r2.dataSync()[0]).toBeCloseTo(2 - 2 * ((0.96 + 1) / 2), 5);
    const b = byolLoss([p1(), p2()], [z1(), z2()]);
    expect(b.rank).toBe(0);
    expect(b.dataSync()[0]).toBeCloseTo(4 - 2 * ((S - 1) / 2) - 2 * 0.98, 5);
  });

  it('is symmetric in the views', () => {
    const a = byolLoss([p1(), p2()], [z1(), z2()]).dataSync()[0];
    const b = byolLoss([p2(), p1()], [z2(), z1()]).dataSync()[0];
    expect(b).toBeCloseTo(a as number, 6);
  });

  it('2 - 2cos equals the squared distance of the normalised vectors', () => {
    const p = tf.randomNormal([5, 7], 0, 1, 'float32', 3) as tf.Tensor2D;
    const z = tf.randomNormal([5, 7], 0, 1, 'float32', 4) as tf.Tensor2D;
    const viaCos = regressionLoss(p, z).dataSync()[0] as number;
    const viaDistance = tf
      .tidy(() => {
        const pn = tf.div(p, tf.norm(p, 'euclidean', -1, true));
        const zn = tf.div(z, tf.norm(z, 'euclidean', -1, true));
        return tf.mean(tf.sum(tf.square(tf.sub(pn, zn)), -1));
      })
      .dataSync()[0] as number;
    expect(viaCos).toBeCloseTo(viaDistance, 5);
    // and 2 - 2cos = 2 * (-cos) + 2: the "-cos" form differs by a factor and an offset only
    const negCos = tf.tidy(() =>
      tf.neg(
        tf.mean(
          tf.sum(
            tf.mul(
              tf.div(p, tf.norm(p, 'euclidean', -1, true)),
              tf.div(z, tf.norm(z, 'euclidean', -1, true)),
            ),
            -1,
          ),
        ),
      ),
    );
    expect(viaCos).toBeCloseTo(2 * (negCos.dataSync()[0] as number) + 2, 5);
  });

  it('gives the targets no gradient and the predictions one', () => {
    const [gp, gz] = tf.grads((p: tf.Tensor, z: tf.Tensor) =>
      regressionLoss(p as tf.Tensor2D, z as tf.Tensor2D),
    )([p1(), z2()]);
    expect(Array.from(gz?.dataSync() ?? [1])).toEqual([0, 0, 0, 0]);
    expect(Math.max(...Array.from(gp?.dataSync() ?? []).map(Math.abs))).toBeGreaterThan(0.1);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
      byolLoss([a as tf.Tensor2D, b as tf.Tensor2D], [c as tf.Tensor2D, d as tf.Tensor2D]),
    )([p1(), p2(), z1(), z2()]);
    expect(Array.from(grads[2]?.dataSync() ?? [1]).every((v) => v === 0)).toBe(true);
    expect(Array.from(grads[3]?.dataSync() ?? [1]).every((v) => v === 0)).toBe(true);
  });

  it('stopGradient passes values and blocks gradients', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(stopGradient(t), t)))(x);
    // d/dt sum(sg(t) * t) = sg(t) = [1,2,3] (the product rule's other half is blocked)
    expect(Array.from(g.dataSync())).toEqual([1, 2, 3]);
  });

  it('rejects mismatched shapes, naming the tensor', () => {
    expect(() =>
      regressionLoss(tf.ones([2, 3]) as tf.Tensor2D, tf.ones([2, 4]) as tf.Tensor2D),
    ).toThrow(/z \(target projection\) has D=4/);
    expect(() => byolLoss([p1(), p2()], [z1(), tf.ones([3, 2]) as tf.Tensor2D])).toThrow(
      /targetProjections\[1\] has B=3/,
    );
    expect(() =>
      regressionLoss(tf.ones([2, 3, 1]) as unknown as tf.Tensor2D, tf.ones([2, 3]) as tf.Tensor2D),
    ).toThrow(/p \(online prediction\) must have rank 2/);
  });

  it('does not leak tensors, gradients included', () => {
    const [a, b, c, d] = [p1(), p2(), z1(), z2()];
    const before = tf.memory().numTensors;
    byolLoss([a, b], [c, d]).dispose();
    tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      byolLoss([x as tf.Tensor2D, y as tf.Tensor2D], [c, d]),
    )([a, b]).forEach((g) => g.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });
});
