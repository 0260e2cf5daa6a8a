import { describe, expect, it } from 'vitest';
import { Rng } from '@ediy/core';
import { regionCentres, sampleCropBox } from '@ediy/augment';

describe('sampleCropBox', () => {
  it('gives integer boxes inside the image with area and aspect ratio in range', () => {
    const rng = new Rng(11);
    const H = 96;
    const W = 80;
    for (let n = 0; n < 500; n++) {
      const b = sampleCropBox(H, W, { scale: [0.08, 1], ratio: [3 / 4, 4 / 3] }, rng);
      for (const v of [b.y0, b.x0, b.y1, b.x1]) expect(Number.isInteger(v)).toBe(true);
      expect(b.y0).toBeGreaterThanOrEqual(0);
      expect(b.x0).toBeGreaterThanOrEqual(0);
      expect(b.y1).toBeLessThanOrEqual(H);
      expect(b.x1).toBeLessThanOrEqual(W);
      const h = b.y1 - b.y0;
      const w = b.x1 - b.x0;
      expect(h).toBeGreaterThan(0);
      expect(w).toBeGreaterThan(0);
      // rounding each side to whole pixels moves area and ratio a little
      expect(h * w).toBeGreaterThanOrEqual(0.08 * H * W * 0.85);
      expect(w / h).toBeGreaterThanOrEqual((3 / 4) * 0.85);
      expect(w / h).toBeLessThanOrEqual(4 / 3 / 0.85);
    }
  });

  it('spreads the area over the scale range', () => {
    const rng = new Rng(5);
    const areas = Array.from({ length: 2000 }, () => {
      const b = sampleCropBox(200, 200, { scale: [0.2, 0.6], ratio: [1, 1] }, rng);
      return ((b.y1 - b.y0) * (b.x1 - b.x0)) / 40000;
    });
    const mean = areas.reduce((s, a) => s + a, 0) / areas.length;
    expect(Math.min(...areas)).toBeGreaterThan(0.19);
    expect(Math.max(...areas)).toBeLessThan(0.61);
    expect(mean).toBeCloseTo(0.4, 1);
  });

  it('falls back to the central crop with the ratio clamped when no try fits', () => {
    // a 2x100 strip: a square of 100% area never fits, so the 10 tries fail
    const b = sampleCropBox(2, 100, { scale: [1, 1], ratio: [1, 1] }, new Rng(1));
    // width/height = 50 > max ratio 1: h = 2, w = round(2 * 1) = 2, centred
    expect(b).toEqual({ y0: 0, x0: 49, y1: 2, x1: 51 });
    const full = sampleCropBox(10, 10, { scale: [1, 1], ratio: [1, 1] }, new Rng(1));
    expect(full).toEqual({ y0: 0, x0: 0, y1: 10, x1: 10 });
  });

  it('is reproducible from the stream state', () => {
    const crop = { scale: [0.08, 1], ratio: [3 / 4, 4 / 3] } as const;
    const a = Array.from(
      { length: 5 },
      (
        (r) => () =>
          sampleCropBox(64, 64, crop, r)
      )(new Rng(9)),
    );
    const b = Array.from(
      { length: 5 },
      (
        (r) => () =>
          sampleCropBox(64, 64, crop, r)
      )(new Rng(9)),
    );
    const c = Array.from(
      { length: 5 },
      (
        (r) => () =>
          sampleCropBox(64, 64, crop, r)
      )(new Rng(10)),
    );
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

describe('regionCentres', () => {
  it('maps grid cells to source centres (hand values)', () => {
    const box = { y0: 10, x0: 20, y1: 18, x1: 32 };
    // 2x3 grid: cell heights 4 source px, widths 4 source px
    expect(Array.from(regionCentres(box, false, 2, 3))).toEqual([
      12, 22, 12, 26, 12, 30, 16, 22, 16, 26, 16, 30,
    ]);
    // flipped: column b counts from the right edge
    expect(Array.from(regionCentres(box, true, 2, 3))).toEqual([
      12, 30, 12, 26, 12, 22, 16, 30, 16, 26, 16, 22,
    ]);
  });

  it('gives the box centre for a 1x1 grid', () => {
    expect(Array.from(regionCentres({ y0: 1, x0: 2, y1: 6, x1: 5 }, true, 1, 1))).toEqual([
      3.5, 3.5,
    ]);
  });

  it('rejects bad boxes and grids, naming the value', () => {
    expect(() => regionCentres({ y0: 5, x0: 0, y1: 5, x1: 3 }, false, 2, 2)).toThrow(
      /box must be a box .* y1 > y0/,
    );
    expect(() => regionCentres({ y0: 0, x0: 0, y1: 4, x1: 4 }, false, 0, 2)).toThrow(
      'gridH must be an integer >= 1, got 0',
    );
    expect(() => regionCentres({ y0: 0, x0: 0, y1: 4, x1: 4 }, false, 2, 1.5)).toThrow(
      'gridW must be an integer >= 1, got 1.5',
    );
  });
});
