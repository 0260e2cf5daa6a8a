import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradient functions; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { rIemLoss, rIemTerm } from '@ediy/losses';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

const S = Math.SQRT1_2;
const idx = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0]?.length ?? 0], 'int32');

// p1 (1x2): (1,0) (0,1); t2 (1x3): (1,0) (1,1) (0,-1); S1 = [1,2]
//   cos((1,0),(1,1)) = .70711, cos((0,1),(0,-1)) = -1 -> mean -0.14645
// p2 (1x3): (2,0) (0,1) (1,1); t1 (1x2): (1,0) (0,5); S2 = [0,1,1]
//   cos = 1, 1, .70711 -> mean 0.90237
// Eq. 7: 2 - (-0.14645) - 0.90237 = 1.24408
const p1 = () => tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
const t2 = () => tf.tensor4d([1, 0, 1, 1, 0, -1], [1, 1, 3, 2]);
const p2 = () => tf.tensor4d([2, 0, 0, 1, 1, 1], [1, 1, 3, 2]);
const t1 = () => tf.tensor4d([1, 0, 0, 5], [1, 1, 2, 2]);
const s1 = () => idx([[1, 2]]);
const s2 = () => idx([[0, 1, 1]]);

describe('rIemLoss (Eq. 7)', () => {
  it('matches the hand-computed value, with views of different sizes', () => {
    expect(rIemTerm(p1(), t2(), s1()).dataSync()[0]).toBeCloseTo((S - 1) / 2, 5);
    expect(rIemTerm(p2(), t1(), s2()).dataSync()[0]).toBeCloseTo((2 + S) / 3, 5);
    const l = rIemLoss([p1(), p2()], [t1(), t2()], [s1(), s2()]);
    expect(l.rank).toBe(0);
    expect(l.dataSync()[0]).toBeCloseTo(2 - (S - 1) / 2 - (2 + S) / 3, 5);
  });

  it('is symmetric in the views', () => {
    const a = rIemLoss([p1(), p2()], [t1(), t2()], [s1(), s2()]).dataSync()[0] as number;
    const b = rIemLoss([p2(), p1()], [t2(), t1()], [s2(), s1()]).dataSync()[0] as number;
    expect(b).toBeCloseTo(a, 6);
  });

  it('gives the targets no gradient and the predictions one', () => {
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
      rIemLoss([a, b], [c, d], [s1(), s2()]),
    )([p1(), p2(), t1(), t2()]);
    expect(Array.from(grads[2]?.dataSync() ?? [1]).every((v) => v === 0)).toBe(true);
    expect(Array.from(grads[3]?.dataSync() ?? [1]).every((v) => v === 0)).toBe(true);
    expect(Math.max(...Array.from(grads[0]?.dataSync() ?? []).map(Math.abs))).toBeGreaterThan(0.1);
  });

  it('falls under a few gradient steps on the predictions', () => {
    const p = tf.variable(tf.randomNormal([2, 2, 2, 3], 0, 1, 'float32', 5));
    const t = tf.randomNormal([2, 2, 2, 3], 0, 1, 'float32', 6);
    const s = idx([
      [3, 2, 1, 0],
      [0, 0, 1, 1],
    ]);
    const loss = () => rIemLoss([p, p], [t, t], [s, s]);
    const before = loss().dataSync()[0] as number;
    const opt = tf.train.sgd(0.5);
    for (let i = 0; i < 5; i++) opt.minimize(loss);
    expect(loss().dataSync()[0]).toBeLessThan(before - 0.1);
    tf.dispose([p, t, s]);
    opt.dispose();
  });

  it('rejects mismatched shapes and out-of-range matches', () => {
    expect(() => rIemLoss([p1(), p2()], [t1(), t2()], [s2(), s2()])).toThrow(
      /matches\[0\] has N1=3 .*predictions\[0\]/,
    );
    expect(() => rIemLoss([p1(), p2()], [t1(), t2()], [idx([[1, 3]]), s2()])).toThrow(
      /indices must lie in \[0, 3\)/,
    );
    const wide = tf.ones([1, 1, 3, 4]);
    expect(() => rIemLoss([p1(), p2()], [t1(), wide], [s1(), s2()])).toThrow(
      /targets\[1\] \(as \[B,N,C\]\) has C=4/,
    );
  });

  it('does not leak tensors, gradients included', () => {
    const [a, b, c, d, e, f] = [p1(), p2(), t1(), t2(), s1(), s2()];
    const before = tf.memory().numTensors;
    rIemLoss([a, b], [c, d], [e, f]).dispose();
    tf.grads((x: tf.Tensor, y: tf.Tensor) => rIemLoss([x, y], [c, d], [e, f]))([a, b]).forEach(
      (g) => g.dispose(),
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
