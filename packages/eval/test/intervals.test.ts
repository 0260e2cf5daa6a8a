import { describe, expect, it } from 'vitest';
import {
  bootstrapInterval,
  quantileSorted,
  studentTQuantile,
  tInterval,
  topkCorrect,
} from '@ediy/eval';

describe('quantileSorted', () => {
  it('interpolates between order statistics at q (n - 1)', () => {
    // [1, 2, 3, 4]: q = 0.25 sits at position 0.75, between 1 and 2.
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBeCloseTo(1.75, 12);
    expect(quantileSorted([1, 2, 3, 4], 0)).toBe(1);
    expect(quantileSorted([1, 2, 3, 4], 1)).toBe(4);
    expect(quantileSorted([7], 0.3)).toBe(7);
    expect(() => quantileSorted([], 0.5)).toThrow(/at least one value/);
    expect(() => quantileSorted([1], 1.5)).toThrow(/quantile must be in \[0, 1\], got 1.5/);
  });
});

describe('bootstrapInterval', () => {
  it('matches the hand-computed resampling distribution of two items', () => {
    // Resampling [0, 1] twice gives a mean of 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4:
    // the 2.5% quantile is 0 and the 97.5% quantile is 1, and a constant sample has no spread.
    const seen = new Map<number, number>();
    const r = bootstrapInterval([0, 1], {
      resamples: 4000,
      seed: 3,
      statistic: (idx) => {
        const m = idx.reduce((a, i) => a + i, 0) / idx.length;
        seen.set(m, (seen.get(m) ?? 0) + 1);
        return m;
      },
    });
    expect(r).toMatchObject({ estimate: 0.5, low: 0, high: 1, level: 0.95, n: 2 });
    expect((seen.get(0) ?? 0) / 4001).toBeCloseTo(0.25, 1);
    expect((seen.get(0.5) ?? 0) / 4001).toBeCloseTo(0.5, 1);
    expect((seen.get(1) ?? 0) / 4001).toBeCloseTo(0.25, 1);
    const flat = bootstrapInterval([0.4, 0.4, 0.4], { resamples: 50 });
    for (const v of [flat.estimate, flat.low, flat.high]) expect(v).toBeCloseTo(0.4, 12);
  });

  it('agrees with the normal approximation for an accuracy over many test images', () => {
    // 2000 images, 1400 correct: p = 0.7, half-width 1.96 sqrt(p (1 - p) / n) = 0.0201.
    const n = 2000;
    const correct = new Uint8Array(n).map((_, i) => (i % 10 < 7 ? 1 : 0));
    const r = bootstrapInterval(correct, { resamples: 2000, seed: 1 });
    const half = 1.959964 * Math.sqrt((0.7 * 0.3) / n);
    expect(r.estimate).toBeCloseTo(0.7, 12);
    for (const side of [r.high - 0.7, 0.7 - r.low]) {
      expect(side).toBeGreaterThan(half * 0.9);
      expect(side).toBeLessThan(half * 1.1);
    }
    // A 99% interval is wider than the 95% one of the same resamples.
    const wide = bootstrapInterval(correct, { resamples: 2000, seed: 1, level: 0.99 });
    expect(wide.high - wide.low).toBeGreaterThan(r.high - r.low);
  });

  it('is seeded: the same seed gives the same interval, another seed another', () => {
    const v = Array.from({ length: 50 }, (_, i) => (i * 37) % 11);
    const a = bootstrapInterval(v, { seed: 5, resamples: 300 });
    expect(bootstrapInterval(v, { seed: 5, resamples: 300 })).toEqual(a);
    expect(bootstrapInterval(v, { seed: 6, resamples: 300 })).not.toEqual(a);
  });

  it('names bad input', () => {
    expect(() => bootstrapInterval([])).toThrow(/at least one value, got 0/);
    expect(() => bootstrapInterval([1, NaN])).toThrow(/value 1 must be finite, got NaN/);
    expect(() => bootstrapInterval([1], { resamples: 0 })).toThrow(/resamples/);
    expect(() => bootstrapInterval([1], { level: 1 })).toThrow(/level must be in \(0, 1\), got 1/);
  });
});

describe('tInterval', () => {
  it("is mean ± t s / sqrt(n) with Student's quantile", () => {
    // [1, 2, 3]: mean 2, s = 1, t(0.975, df 2) = 4.302653 (any t-table).
    const r = tInterval([1, 2, 3]);
    expect(r.estimate).toBe(2);
    expect(r.low).toBeCloseTo(2 - 4.302653 / Math.sqrt(3), 5);
    expect(r.high).toBeCloseTo(2 + 4.302653 / Math.sqrt(3), 5);
    expect(r).toMatchObject({ n: 3, method: 't', level: 0.95 });
    expect(studentTQuantile(0.975, 9)).toBeCloseTo(2.262157, 5);
    // Many degrees of freedom: the normal quantile.
    expect(studentTQuantile(0.975, 1e7)).toBeCloseTo(1.959964, 4);
  });

  it('leaves out non-finite values and has no interval below two values', () => {
    expect(tInterval([1, NaN, 3]).estimate).toBe(2);
    const one = tInterval([0.5]);
    expect(one.estimate).toBe(0.5);
    expect(one.low).toBeNaN();
    expect(one.high).toBeNaN();
    expect(() => tInterval([1, 2], 0)).toThrow(/level must be in \(0, 1\), got 0/);
  });
});

describe('topkCorrect', () => {
  it('marks the rows whose label is among the k highest scores', () => {
    const scores = [0.1, 0.9, 0.7, 0.3, 0.5, 0.5];
    expect(Array.from(topkCorrect(scores, [1, 1, 0], 2))).toEqual([1, 0, 1]);
    expect(Array.from(topkCorrect(scores, [0, 1, 1], 2, 2))).toEqual([1, 1, 1]);
    expect(() => topkCorrect([1, 2, 3], [0, 1], 2)).toThrow(/2x2 = 4 values, got 3/);
  });
});
