import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { otherImage, randomAcross, randomWithin } from '@ediy/matchers';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

describe('randomWithin (Table 1, R)', () => {
  it('never picks the region itself and reaches every other region', () => {
    const t = randomWithin(50, 4, new Rng(3));
    expect(t.dtype).toBe('int32');
    expect(t.shape).toEqual([50, 4]);
    const rows = t.arraySync();
    const seen = [new Set<number>(), new Set<number>(), new Set<number>(), new Set<number>()];
    rows.forEach((row) =>
      row.forEach((z, j) => {
        expect(z).not.toBe(j);
        expect(z).toBeGreaterThanOrEqual(0);
        expect(z).toBeLessThan(4);
        seen[j]?.add(z);
      }),
    );
    seen.forEach((s, j) => expect([...s].sort()).toEqual([0, 1, 2, 3].filter((z) => z !== j)));
    t.dispose();
  });

  it('is reproducible from the seed and differs between seeds', () => {
    const a = randomWithin(4, 9, new Rng(11));
    const b = randomWithin(4, 9, new Rng(11));
    const c = randomWithin(4, 9, new Rng(12));
    expect(a.arraySync()).toEqual(b.arraySync());
    expect(a.arraySync()).not.toEqual(c.arraySync());
    tf.dispose([a, b, c]);
  });

  it('rejects a single region and bad sizes', () => {
    expect(() => randomWithin(2, 1, new Rng(0))).toThrow(
      /regions .* must be an integer >= 2, got 1/,
    );
    expect(() => randomWithin(0, 4, new Rng(0))).toThrow(/batch must be an integer >= 1, got 0/);
    expect(() => randomWithin(1.5, 4, new Rng(0))).toThrow(/batch/);
  });
});

describe('randomAcross (Table 1, R)', () => {
  it('draws indices into the other view, covering its regions', () => {
    const t = randomAcross(40, 4, 3, new Rng(5));
    expect(t.shape).toEqual([40, 4]);
    const values = new Set(t.arraySync().flat());
    expect([...values].sort()).toEqual([0, 1, 2]);
    t.dispose();
    expect(() => randomAcross(2, 4, 0, new Rng(0))).toThrow(
      /regionsB must be an integer >= 1, got 0/,
    );
  });
});

describe('otherImage (R-INS)', () => {
  it('never picks the image itself and reaches every other image', () => {
    const rng = new Rng(9);
    const seen = new Set<string>();
    for (let k = 0; k < 40; k++) {
      const t = otherImage(3, rng);
      expect(t.dtype).toBe('int32');
      const v = Array.from(t.dataSync());
      v.forEach((o, i) => {
        expect(o).not.toBe(i);
        seen.add(`${i}->${o}`);
      });
      t.dispose();
    }
    expect([...seen].sort()).toEqual(['0->1', '0->2', '1->0', '1->2', '2->0', '2->1']);
  });

  it('with two images pairs them with each other', () => {
    const t = otherImage(2, new Rng(1));
    expect(Array.from(t.dataSync())).toEqual([1, 0]);
    t.dispose();
  });

  it('refuses a batch of one with a clear error', () => {
    expect(() => otherImage(1, new Rng(0))).toThrow(/at least 2 images.*batch=1/);
  });
});
