import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradient functions; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { mostDissimilarWithin } from '@ediy/matchers';
import { rDemLoss, rDemTerm } from '@ediy/losses';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

const S = Math.SQRT1_2;
const idx = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0]?.length ?? 0], 'int32');

// View 1, 2x2 map: r0=(1,0) r1=(0,1) r2=(1,1) r3=(-1,0); partners D1 = [3,2,3,0]
//   cos(r0,r3) = -1, cos(r1,r2) = .70711, cos(r2,r3) = -.70711, cos(r3,r0) = -1 -> mean -0.5
// View 2: r0=(3,4) r1=(4,3) r2=(0,2) r3=(2,0); D2 = [1,0,3,2]
//   cos(r0,r1) = 24/25 = .96 (twice), cos(r2,r3) = 0 (twice) -> mean 0.48
const l1 = () => tf.tensor4d([1, 0, 0, 1, 1, 1, -1, 0], [1, 2, 2, 2]);
const l2 = () => tf.tensor4d([3, 4, 4, 3, 0, 2, 2, 0], [1, 2, 2, 2]);
const d1 = () => idx([[3, 2, 3, 0]]);
const d2 = () => idx([[1, 0, 3, 2]]);

describe('rDemLoss (Eq. 5)', () => {
  it('matches the hand-computed terms and both readings', () => {
    expect(rDemTerm(l1(), d1()).dataSync()[0]).toBeCloseTo((-1 + S - S - 1) / 4, 5);
    expect(rDemTerm(l2(), d2()).dataSync()[0]).toBeCloseTo(0.48, 5);
    expect(rDemLoss([l1(), l2()], [d1(), d2()]).dataSync()[0]).toBeCloseTo(-0.5 + 0.48, 5);
    expect(rDemLoss([l1(), l2()], [d1(), d2()], { reading: 'per-view' }).dataSync()[0]).toBeCloseTo(
      -0.02,
      5,
    );
    expect(
      rDemLoss([l1(), l2()], [d1(), d2()], { reading: 'first-view-twice' }).dataSync()[0],
    ).toBeCloseTo(-1, 5);
  });

  it('averages over the batch and accepts [B,N,C]', () => {
    // batch of the two maps above as two images of one view: (-0.5 + 0.48) / 2
    const both = tf.reshape(tf.concat([l1(), l2()]), [2, 4, 2]);
    const parts = idx([
      [3, 2, 3, 0],
      [1, 0, 3, 2],
    ]);
    expect(rDemTerm(both, parts).dataSync()[0]).toBeCloseTo(-0.01, 5);
  });

  it('is symmetric in the views', () => {
    const a = rDemLoss([l1(), l2()], [d1(), d2()]).dataSync()[0] as number;
    const b = rDemLoss([l2(), l1()], [d2(), d1()]).dataSync()[0] as number;
    expect(b).toBeCloseTo(a, 6);
  });

  it('sends the gradient through both regions of a pair', () => {
    // 1x2 map, D = [1, 0]: the term is cos(r0, r1) counted from both ends, so its gradient
    // w.r.t. r0 is d cos(r0, r1)/d r0 in full (half of it would mean one side is stopped).
    const l = tf.tensor4d([1, 0, 1, 1], [1, 1, 2, 2]);
    const g = tf.grad((x: tf.Tensor) => rDemTerm(x, idx([[1, 0]])))(l);
    // d cos(a,b)/da = b/(|a||b|) - cos * a/|a|^2 at a=(1,0), b=(1,1): (.70711,.70711) - .70711*(1,0) = (0, .70711)
    const v = Array.from(g.dataSync());
    expect(v[0]).toBeCloseTo(0, 5);
    expect(v[1]).toBeCloseTo(S, 5);
    // at b: a/(|a||b|) - cos * b/|b|^2 = (.70711, 0) - .70711*(.5,.5) = (.35355, -.35355)
    expect(v[2]).toBeCloseTo(S / 2, 5);
    expect(v[3]).toBeCloseTo(-S / 2, 5);
  });

  it('a few gradient steps lower the similarity of the matched pairs', () => {
    const teacher = tf.randomNormal([2, 3, 3, 6], 0, 1, 'float32', 1) as tf.Tensor4D;
    const partners = mostDissimilarWithin(teacher);
    const x = tf.variable(tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 2));
    const before = rDemTerm(x, partners).dataSync()[0] as number;
    const opt = tf.train.sgd(0.5);
    for (let i = 0; i < 5; i++) opt.minimize(() => rDemLoss([x, x], [partners, partners]));
    const after = rDemTerm(x, partners).dataSync()[0] as number;
    expect(after).toBeLessThan(before - 0.05);
    tf.dispose([teacher, partners, x]);
    opt.dispose();
  });

  it('rejects bad shapes and readings with the names of the inputs', () => {
    expect(() => rDemLoss([l1(), l2()], [idx([[0, 1, 2]]), d2()])).toThrow(/partners\[0\] has N=3/);
    expect(() => rDemLoss([l1(), tf.ones([2, 2]) as tf.Tensor], [d1(), d2()])).toThrow(
      /local\[1\] must be \[B,H,W,C\] or \[B,N,C\]/,
    );
    expect(() => rDemLoss([l1(), l2()], [d1(), idx([[0, 1]])])).toThrow(
      /partners\[1\] .*dimension 1 is 2, expected 4/,
    );
    // @ts-expect-error not a reading
    expect(() => rDemLoss([l1(), l2()], [d1(), d2()], { reading: 'twice' })).toThrow(
      /reading must be 'per-view' or 'first-view-twice', got "twice"/,
    );
  });

  it('does not leak tensors, gradients included', () => {
    const [a, b, c, d] = [l1(), l2(), d1(), d2()];
    const before = tf.memory().numTensors;
    rDemLoss([a, b], [c, d]).dispose();
    tf.grads((x: tf.Tensor, y: tf.Tensor) => rDemLoss([x, y], [c, d]))([a, b]).forEach((g) =>
      g.dispose(),
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
