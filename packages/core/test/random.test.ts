import { describe, expect, it } from 'vitest';
import { Rng } from '@ediy/core';

describe('Rng', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 8 }, () => a.nextUint32());
    const sb = Array.from({ length: 8 }, () => b.nextUint32());
    const sc = Array.from({ length: 8 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('restores exactly from a saved state', () => {
    const a = new Rng(7);
    for (let i = 0; i < 100; i++) a.next();
    const saved = JSON.parse(JSON.stringify(a.state()));
    const expected = Array.from({ length: 5 }, () => a.next());
    const b = Rng.fromState(saved);
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(expected);
  });

  it('forks independent named streams without advancing the parent', () => {
    const a = new Rng(1);
    const before = a.state();
    const f1 = a.fork('augment');
    const f2 = a.fork('matcher');
    expect(a.state()).toEqual(before);
    expect(f1.next()).not.toEqual(f2.next());
    expect(new Rng(1).fork('augment').next()).toEqual(new Rng(1).fork('augment').next());
  });

  it('has roughly uniform floats and standard normals', () => {
    const r = new Rng(3);
    const n = 20000;
    let s = 0;
    let s2 = 0;
    let u = 0;
    for (let i = 0; i < n; i++) {
      const x = r.normal();
      s += x;
      s2 += x * x;
      const v = r.next();
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
      u += v;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
    expect(Math.abs(u / n - 0.5)).toBeLessThan(0.01);
  });

  it('permutes all indices exactly once', () => {
    const p = Array.from(new Rng(5).permutation(100)).sort((x, y) => x - y);
    expect(p).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('rejects bad arguments with errors naming the value', () => {
    expect(() => new Rng(Number.NaN)).toThrow(/seed must be a finite number, got NaN/);
    expect(() => new Rng(1).int(0)).toThrow(/positive integer n, got 0/);
    expect(() => new Rng(1).bernoulli(1.5)).toThrow(/p in \[0, 1\], got 1.5/);
    expect(() => Rng.fromState([1, 2] as never)).toThrow(/four 32-bit integers/);
  });
});
