import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { ediyLoss, PAPER_LOSS_WEIGHTS, weightedSum } from '@ediy/losses';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

describe('ediyLoss (Eq. 3)', () => {
  it('weights and sums the terms, and reports each one', () => {
    // 1 * 0.5 + 0.1 * 1.0 + 2 * 2.0 = 4.6
    const rDem = tf.scalar(0.5);
    const rIem = tf.scalar(1);
    const byol = tf.scalar(2);
    const { total, terms } = ediyLoss(
      { rDem, rIem, byol },
      { lambda1: 1, lambda2: 0.1, lambda3: 2 },
    );
    expect(total.dataSync()[0]).toBeCloseTo(4.6, 6);
    expect(Object.keys(terms).sort()).toEqual(['byol', 'rDem', 'rIem']);
    expect(terms.rIem?.dataSync()[0]).toBe(1);
    tf.dispose([rDem, rIem, byol, total]);
  });

  it('leaves out absent terms (Table 1 rows without a module) and uses the paper weights', () => {
    // BYOL + R-DEM row: 1 * (-0.25) + 1 * 3 = 2.75
    const rDem = tf.scalar(-0.25);
    const byol = tf.scalar(3);
    const { total, terms } = ediyLoss({ rDem, byol }, PAPER_LOSS_WEIGHTS);
    expect(total.dataSync()[0]).toBeCloseTo(2.75, 6);
    expect(Object.keys(terms).sort()).toEqual(['byol', 'rDem']);
    expect(PAPER_LOSS_WEIGHTS).toEqual({ lambda1: 1, lambda2: 1, lambda3: 1 });
    tf.dispose([rDem, byol, total]);
  });

  it('rejects no terms, non-scalar terms and bad weights', () => {
    expect(() => ediyLoss({}, PAPER_LOSS_WEIGHTS)).toThrow(/at least one of terms.rDem/);
    const v = tf.ones([2]) as unknown as tf.Scalar;
    expect(() => ediyLoss({ byol: v }, PAPER_LOSS_WEIGHTS)).toThrow(
      /terms.byol must be a scalar tensor, got \[2\]/,
    );
    const s = tf.scalar(1);
    expect(() => ediyLoss({ byol: s }, { lambda1: 1, lambda2: -1, lambda3: 1 })).toThrow(
      /weights.lambda2 must be a number in \[0,.*got -1/,
    );
    expect(() => ediyLoss({ byol: s }, { lambda1: NaN, lambda2: 1, lambda3: 1 })).toThrow(
      /weights.lambda1 .*got NaN/,
    );
    tf.dispose([v, s]);
  });
});

describe('weightedSum (Eq. 3 over named terms)', () => {
  it('weights and sums any named terms, leaving them alive', () => {
    // 1 * 0.5 + 0.1 * 1.0 + 2 * 2.0 = 4.6
    const terms = { byol: tf.scalar(0.5), 'r-dem': tf.scalar(1), 'my-loss': tf.scalar(2) };
    const before = tf.memory().numTensors;
    const total = weightedSum(terms, { byol: 1, 'r-dem': 0.1, 'my-loss': 2 });
    expect(total.dataSync()[0]).toBeCloseTo(4.6, 6);
    expect(tf.memory().numTensors).toBe(before + 1);
    const one = weightedSum({ byol: terms.byol }, { byol: 3 });
    expect(one.dataSync()[0]).toBeCloseTo(1.5, 6);
    expect(terms['my-loss'].isDisposed).toBe(false);
    tf.dispose([...Object.values(terms), total, one]);
  });

  it('is what ediyLoss computes', () => {
    const rDem = tf.scalar(-0.25);
    const rIem = tf.scalar(0.75);
    const byol = tf.scalar(3);
    const weights = { lambda1: 0.5, lambda2: 0.1, lambda3: 2 };
    const { total } = ediyLoss({ rDem, rIem, byol }, weights);
    const sum = weightedSum({ rDem, rIem, byol }, { rDem: 0.5, rIem: 0.1, byol: 2 });
    expect(total.dataSync()[0]).toBe(sum.dataSync()[0]);
    tf.dispose([rDem, rIem, byol, total, sum]);
  });

  it('rejects no terms, a term without a weight, a weight without a term, bad weights', () => {
    const s = tf.scalar(1);
    expect(() => weightedSum({}, {})).toThrow(/at least one term/);
    expect(() => weightedSum({ byol: s }, {} as { byol: number })).toThrow(
      /weights.byol must be a number/,
    );
    expect(() =>
      weightedSum({ byol: s } as Record<string, tf.Scalar>, { byol: 1, 'r-dme': 1 }),
    ).toThrow(/weights.r-dme has no term; the terms are byol/);
    expect(() => weightedSum({ byol: s }, { byol: -1 })).toThrow(/weights.byol .*got -1/);
    const v = tf.ones([2]) as unknown as tf.Scalar;
    expect(() => weightedSum({ byol: v }, { byol: 1 })).toThrow(
      /terms.byol must be a scalar tensor, got \[2\]/,
    );
    tf.dispose([s, v]);
  });
});
