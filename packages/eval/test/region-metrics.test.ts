import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { effectiveRank, regionDiversity, regionSimilarity, symmetricEigenvalues } from '@ediy/eval';
import { leakedBy } from './helpers.js';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

/** Maps [B,h,w,C] whose every region is `v`. */
function constantMaps(
  B: number,
  h: number,
  w: number,
  v: number[],
): { data: Float32Array; shape: number[] } {
  const data = new Float32Array(B * h * w * v.length);
  for (let r = 0; r < B * h * w; r++) data.set(v, r * v.length);
  return { data, shape: [B, h, w, v.length] };
}

/** One image [1,1,C,C] whose C regions are the scaled basis vectors s_i e_i. */
function orthogonalMaps(scales: number[]): { data: Float32Array; shape: number[] } {
  const C = scales.length;
  const data = new Float32Array(C * C);
  scales.forEach((s, i) => (data[i * C + i] = s));
  return { data, shape: [1, 1, C, C] };
}

describe('symmetricEigenvalues', () => {
  it('finds the eigenvalues of small matrices (hand-computed)', () => {
    // [[2,1],[1,2]] has eigenvalues 3 and 1.
    const e = symmetricEigenvalues([2, 1, 1, 2], 2);
    expect(e[0]).toBeCloseTo(3, 12);
    expect(e[1]).toBeCloseTo(1, 12);
    // [[4,1,0],[1,4,1],[0,1,4]]: 4 + sqrt(2), 4, 4 - sqrt(2).
    const f = symmetricEigenvalues([4, 1, 0, 1, 4, 1, 0, 1, 4], 3);
    expect(f[0]).toBeCloseTo(4 + Math.SQRT2, 10);
    expect(f[1]).toBeCloseTo(4, 10);
    expect(f[2]).toBeCloseTo(4 - Math.SQRT2, 10);
  });

  it('keeps the trace and agrees with a random rotation of a known spectrum', () => {
    const rng = new Rng(3);
    const n = 6;
    // Q = product of random Givens rotations; A = Q diag(d) Q^T.
    const d = [5, 3, 2, 1, 0.5, 0];
    const q = new Float64Array(n * n);
    for (let i = 0; i < n; i++) q[i * n + i] = 1;
    for (let k = 0; k < 30; k++) {
      const p = rng.int(n);
      const r = (p + 1 + rng.int(n - 1)) % n;
      const t = rng.uniform(0, 2 * Math.PI);
      for (let i = 0; i < n; i++) {
        const a = q[i * n + p] as number;
        const b = q[i * n + r] as number;
        q[i * n + p] = Math.cos(t) * a - Math.sin(t) * b;
        q[i * n + r] = Math.sin(t) * a + Math.cos(t) * b;
      }
    }
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        for (let k = 0; k < n; k++)
          a[i * n + j]! += (q[i * n + k] as number) * (d[k] as number) * (q[j * n + k] as number);
    const e = symmetricEigenvalues(a, n);
    d.forEach((v, i) => expect(e[i]).toBeCloseTo(v, 9));
  });

  it('rejects non-square and non-symmetric input', () => {
    expect(() => symmetricEigenvalues([1, 2, 3], 2)).toThrow(/n x n matrix, got n=2 and 3 values/);
    expect(() => symmetricEigenvalues([1, 2, 3, 4], 2)).toThrow(
      /must be symmetric: entry \(0,1\) is 2, \(1,0\) is 3/,
    );
  });
});

describe('regionSimilarity', () => {
  it('is 1 for identical regions and 0 for orthogonal ones', () => {
    expect(regionSimilarity(constantMaps(2, 2, 3, [1, -2, 0.5]))).toBeCloseTo(1, 5);
    expect(regionSimilarity(orthogonalMaps([1, 2, 3, 4]))).toBeCloseTo(0, 6);
  });

  it('averages the off-diagonal cosines within each image, then over images (hand-computed)', () => {
    // Image 0: regions (1,0), (1,1), (0,1): cosines s, 0, s over the 3 pairs -> mean 2s/3.
    // Image 1: regions (1,0), (-1,0), (1,0): cosines -1, 1, -1 -> mean -1/3.
    const s = Math.SQRT1_2;
    const maps = {
      data: Float32Array.from([1, 0, 1, 1, 0, 1, 1, 0, -1, 0, 1, 0]),
      shape: [2, 1, 3, 2],
    };
    expect(regionSimilarity(maps)).toBeCloseTo(((2 * s) / 3 - 1 / 3) / 2, 6);
  });

  it('names bad maps and leaks nothing', () => {
    expect(() => regionSimilarity({ data: new Float32Array(3), shape: [1, 1, 1, 3] })).toThrow(
      /at least 2 regions/,
    );
    expect(() => regionSimilarity({ data: new Float32Array(6), shape: [2, 3] })).toThrow(
      /maps must have rank 4/,
    );
    const t = tf.ones([2, 2, 2, 3]);
    expect(leakedBy(() => regionSimilarity(t))).toBe(0);
    t.dispose();
  });
});

describe('effectiveRank', () => {
  it('is 1 for identical rows and C for C orthogonal rows of equal norm', () => {
    expect(
      effectiveRank({ data: constantMaps(1, 5, 1, [0.3, -1, 2, 0.7]).data, shape: [5, 4] }),
    ).toBeCloseTo(1, 6);
    expect(
      effectiveRank({ data: orthogonalMaps([2, 2, 2, 2, 2]).data, shape: [5, 5] }),
    ).toBeCloseTo(5, 6);
  });

  it('is exp(entropy of the normalised singular values) (hand-computed)', () => {
    // Rows 3 e1 and 1 e2: singular values 3, 1 -> p = (3/4, 1/4).
    const h = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
    expect(effectiveRank({ data: Float32Array.from([3, 0, 0, 1]), shape: [2, 2] })).toBeCloseTo(
      Math.exp(h),
      6,
    );
    // Rows (1,1) and (1,-1) are orthogonal with norm sqrt 2: singular values equal -> rank 2.
    expect(effectiveRank({ data: Float32Array.from([1, 1, 1, -1]), shape: [2, 2] })).toBeCloseTo(
      2,
      6,
    );
    expect(effectiveRank({ data: new Float32Array(6), shape: [3, 2] })).toBe(0);
    // Fewer rows than channels (the n x n Gram path): rows 3 e1 and 1 e4 of 5 channels.
    expect(
      effectiveRank({ data: Float32Array.from([3, 0, 0, 0, 0, 0, 0, 0, 1, 0]), shape: [2, 5] }),
    ).toBeCloseTo(Math.exp(h), 6);
  });

  it('centres rows when asked', () => {
    // e1, e2, e3 centred span a 2-D plane with equal singular values.
    const x = { data: orthogonalMaps([1, 1, 1]).data, shape: [3, 3] };
    expect(effectiveRank(x)).toBeCloseTo(3, 6);
    expect(effectiveRank(x, { center: true })).toBeCloseTo(2, 6);
    // The same with fewer rows than channels: e1, e2 centred is one direction.
    expect(
      effectiveRank(
        { data: Float32Array.from([1, 0, 0, 0, 1, 0]), shape: [2, 3] },
        { center: true },
      ),
    ).toBeCloseTo(1, 6);
  });
});

describe('regionDiversity', () => {
  it('reports both metrics over all regions of all images', () => {
    const collapsed = regionDiversity(constantMaps(3, 2, 2, [1, 2, 3]));
    expect(collapsed.meanRegionCosine).toBeCloseTo(1, 5);
    expect(collapsed.effectiveRank).toBeCloseTo(1, 6);
    const diverse = regionDiversity(orthogonalMaps([1, 1, 1, 1, 1, 1]));
    expect(diverse.meanRegionCosine).toBeCloseTo(0, 6);
    expect(diverse.effectiveRank).toBeCloseTo(6, 6);
  });
});
