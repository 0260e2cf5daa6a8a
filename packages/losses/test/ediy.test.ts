import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { ediyLoss, PAPER_LOSS_WEIGHTS } from '@ediy/losses';

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
