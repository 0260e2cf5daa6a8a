import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { mostDissimilarWithin, mostSimilarAcross } from '@ediy/matchers';
import { byolLoss, denseContrastiveLoss, rDemInstanceLoss, rDemLoss, rIemLoss } from '@ediy/losses';

/** Made by tools/golden.py, an independent NumPy implementation of the same formulas. */
interface Golden {
  inputs: {
    teacher: number[][][][][];
    local: number[][][][][];
    pred: number[][][][][];
    target: number[][][][][];
    p: number[][][];
    z: number[][][];
    g: number[][][];
    other: number[];
  };
  outputs: Record<
    | 'byol'
    | 'rDemPerView'
    | 'rDemFirstViewTwice'
    | 'rIem'
    | 'rInsPooledLocal'
    | 'rInsGlobal'
    | 'denseContrastive',
    number
  > & {
    dissimilarWithin: number[][][];
    similarAcross: number[][][];
  };
}

const golden = JSON.parse(
  readFileSync(new URL('./fixtures/golden.json', import.meta.url), 'utf8'),
) as Golden;
const pair4 = (x: number[][][][][]) =>
  [tf.tensor4d(x[0] as number[][][][]), tf.tensor4d(x[1] as number[][][][])] as const;
const pair2 = (x: number[][][]) =>
  [tf.tensor2d(x[0] as number[][]), tf.tensor2d(x[1] as number[][])] as const;
const scalar = (t: tf.Scalar) => t.dataSync()[0] as number;

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

describe('golden values from the NumPy reference (tools/golden.py)', () => {
  it('matchers agree on Eq. 4 and Eq. 6 indices', () => {
    const teacher = pair4(golden.inputs.teacher);
    expect(mostDissimilarWithin(teacher[0]).arraySync()).toEqual(
      golden.outputs.dissimilarWithin[0],
    );
    expect(mostDissimilarWithin(teacher[1]).arraySync()).toEqual(
      golden.outputs.dissimilarWithin[1],
    );
    expect(mostSimilarAcross(teacher[0], teacher[1]).arraySync()).toEqual(
      golden.outputs.similarAcross[0],
    );
    expect(mostSimilarAcross(teacher[1], teacher[0]).arraySync()).toEqual(
      golden.outputs.similarAcross[1],
    );
  });

  it('losses agree to 1e-5', () => {
    const teacher = pair4(golden.inputs.teacher);
    const local = pair4(golden.inputs.local);
    const pred = pair4(golden.inputs.pred);
    const target = pair4(golden.inputs.target);
    const d = [mostDissimilarWithin(teacher[0]), mostDissimilarWithin(teacher[1])] as const;
    const s = [
      mostSimilarAcross(teacher[0], teacher[1]),
      mostSimilarAcross(teacher[1], teacher[0]),
    ] as const;
    const other = tf.tensor1d(golden.inputs.other, 'int32');
    const o = golden.outputs;
    expect(scalar(byolLoss(pair2(golden.inputs.p), pair2(golden.inputs.z)))).toBeCloseTo(o.byol, 5);
    expect(scalar(rDemLoss(local, d))).toBeCloseTo(o.rDemPerView, 5);
    expect(scalar(rDemLoss(local, d, { reading: 'first-view-twice' }))).toBeCloseTo(
      o.rDemFirstViewTwice,
      5,
    );
    expect(scalar(rIemLoss(pred, target, s))).toBeCloseTo(o.rIem, 5);
    expect(scalar(rDemInstanceLoss(local, other))).toBeCloseTo(o.rInsPooledLocal, 5);
    expect(
      scalar(
        rDemInstanceLoss(local, other, { negative: 'global', global: pair2(golden.inputs.g) }),
      ),
    ).toBeCloseTo(o.rInsGlobal, 5);
    expect(scalar(denseContrastiveLoss(local[0], target[1], s[0], 0.2))).toBeCloseTo(
      o.denseContrastive,
      5,
    );
  });
});
