import { describe, expect, it } from 'vitest';
import { symmetricEigenvalues } from '../src/jacobi.js';

/** A seeded symmetric n x n matrix (row-major), entries in [-1, 1). */
function randomSymmetric(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = next();
  }
  return a;
}

describe('symmetricEigenvalues', () => {
  it('gives a 2 x 2 matrix its closed-form eigenvalues, in descending order', () => {
    // [[2, 1], [1, 2]] has eigenvalues 3 and 1; [[0, 2], [2, 3]] has 4 and -1
    expect(Array.from(symmetricEigenvalues([2, 1, 1, 2], 2))).toEqual([
      expect.closeTo(3, 12),
      expect.closeTo(1, 12),
    ]);
    const e = symmetricEigenvalues([0, 2, 2, 3], 2);
    expect(e[0]).toBeCloseTo(4, 12);
    expect(e[1]).toBeCloseTo(-1, 12);
  });

  it('gives a diagonal matrix its diagonal, sorted', () => {
    const a = [0, 0, 0, 0, -2, 0, 0, 0, 5];
    expect(Array.from(symmetricEigenvalues(a, 3))).toEqual([5, 0, -2]);
  });

  it('keeps the trace and the Frobenius norm of a 40 x 40 matrix, and leaves it unchanged', () => {
    const n = 40;
    const a = randomSymmetric(n, 7);
    const copy = Float64Array.from(a);
    const e = symmetricEigenvalues(a, n);
    let trace = 0;
    let frob = 0;
    for (let i = 0; i < n; i++) trace += a[i * n + i]!;
    for (const v of a) frob += v * v;
    expect(e.reduce((s, v) => s + v, 0)).toBeCloseTo(trace, 10);
    expect(e.reduce((s, v) => s + v * v, 0)).toBeCloseTo(frob, 9);
    for (let i = 1; i < n; i++) expect(e[i]!).toBeLessThanOrEqual(e[i - 1]!);
    expect(a).toEqual(copy);
  });

  it('gives a rank-one matrix v v^T one eigenvalue ||v||^2 and zeros', () => {
    const v = [1, 2, 3, 4];
    const a = v.flatMap((x) => v.map((y) => x * y));
    const e = symmetricEigenvalues(a, 4);
    expect(e[0]).toBeCloseTo(30, 12);
    for (const z of e.subarray(1)) expect(Math.abs(z)).toBeLessThan(1e-12);
  });

  it('names what is wrong with its input', () => {
    expect(() => symmetricEigenvalues([1, 2, 3], 2)).toThrow('got n=2 and 3 values');
    expect(() => symmetricEigenvalues([1, 2, 3, 4], 2)).toThrow(
      'matrix must be symmetric: entry (0,1) is 2, (1,0) is 3',
    );
    expect(() => symmetricEigenvalues([1, NaN, NaN, 1], 2)).toThrow(
      'matrix entries must be finite, got NaN at (0,1)',
    );
  });
});
