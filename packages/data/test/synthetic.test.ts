import { describe, expect, it } from 'vitest';
import {
  MAX_SYNTHETIC_CLASSES,
  syntheticClass,
  syntheticScenes,
  type DatasetBatch,
} from '@ediy/data';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Every check relating masks, boxes and labels of one item. */
function checkItem(b: DatasetBatch, i: number, size: number): void {
  const hw = size * size;
  const boxes = b.boxes?.[i] ?? [];
  expect(boxes.length).toBeGreaterThan(0);
  let labelled = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const m = b.masks?.[i * hw + y * size + x] as number;
      if (m === 0) continue;
      labelled++;
      // every object pixel lies in a box of its class
      const inBox = boxes.some(
        (o) => o.classId === m - 1 && x >= o.x0 && x < o.x1 && y >= o.y0 && y < o.y1,
      );
      expect(inBox, `item ${i} pixel (${y},${x}) class ${m - 1}`).toBe(true);
    }
  }
  // the visible areas account for every object pixel
  expect(boxes.reduce((s, o) => s + o.area, 0)).toBe(labelled);
  // the label is the class of the largest visible object (first on a tie)
  const largest = boxes.reduce((a, o) => (o.area > a.area ? o : a));
  expect(b.labels[i]).toBe(largest.classId);
  for (const o of boxes) {
    expect(o.x0).toBeGreaterThanOrEqual(0);
    expect(o.y0).toBeGreaterThanOrEqual(0);
    expect(o.x1).toBeLessThanOrEqual(size);
    expect(o.y1).toBeLessThanOrEqual(size);
    expect(o.area).toBeLessThanOrEqual((o.x1 - o.x0) * (o.y1 - o.y0));
  }
}

describe('syntheticScenes', () => {
  it('describes classes as shape x colour x texture (k mod 6, k mod 7, floor(k/42))', () => {
    expect(syntheticClass(0)).toEqual({ shape: 'circle', colour: 'red', texture: 'solid' });
    expect(syntheticClass(5)).toEqual({ shape: 'diamond', colour: 'cyan', texture: 'solid' });
    expect(syntheticClass(43)).toEqual({ shape: 'square', colour: 'green', texture: 'stripes' });
    expect(syntheticClass(125)).toEqual({ shape: 'diamond', colour: 'orange', texture: 'checker' });
    const seen = new Set(
      range(MAX_SYNTHETIC_CLASSES).map((k) => JSON.stringify(syntheticClass(k))),
    );
    expect(seen.size).toBe(126);
    expect(() => syntheticClass(126)).toThrow(/\[0, 126\), got 126/);
  });

  it('gives the same scenes for the same seed and different ones for another seed', () => {
    const opts = { count: 12, size: 32, numClasses: 5, seed: 7 };
    const a = syntheticScenes(opts).get(range(12));
    const b = syntheticScenes(opts).get(range(12));
    expect(b.images).toEqual(a.images);
    expect(b.masks).toEqual(a.masks);
    expect(b.labels).toEqual(a.labels);
    expect(b.boxes).toEqual(a.boxes);
    const c = syntheticScenes({ ...opts, seed: 8 }).get(range(12));
    expect(c.images).not.toEqual(a.images);
  });

  it('draws scene i from (seed, i) alone, whatever count and batch', () => {
    const small = syntheticScenes({ count: 6, size: 32, numClasses: 3, seed: 1 });
    const large = syntheticScenes({ count: 600, size: 32, numClasses: 3, seed: 1 });
    const one = small.get([4]);
    const many = large.get([9, 4, 0]);
    const hw3 = 32 * 32 * 3;
    expect(many.images.subarray(hw3, 2 * hw3)).toEqual(one.images);
    expect(many.labels[1]).toBe(one.labels[0]);
    expect(many.boxes?.[1]).toEqual(one.boxes?.[0]);
  });

  it('keeps masks, boxes and labels consistent, with 1-4 objects and pixels in [0, 1]', () => {
    const ds = syntheticScenes({ count: 40, size: 32, numClasses: 6, seed: 3 });
    expect(ds.imageShape).toEqual([32, 32, 3]);
    expect(ds.hasMasks).toBe(true);
    expect(ds.classNames?.[0]).toBe('solid red circle');
    const b = ds.get(range(40));
    expect(b.images.length).toBe(40 * 32 * 32 * 3);
    expect(b.masks?.length).toBe(40 * 32 * 32);
    expect(b.images.every((v) => v >= 0 && v <= 1)).toBe(true);
    const counts = new Set<number>();
    for (let i = 0; i < 40; i++) {
      checkItem(b, i, 32);
      counts.add(b.boxes?.[i]?.length ?? 0);
      expect(b.labels[i]).toBeGreaterThanOrEqual(0);
      expect(b.labels[i]).toBeLessThan(6);
    }
    expect(Math.max(...counts)).toBeLessThanOrEqual(4);
    expect(counts.size).toBeGreaterThan(1);
    expect(b.masks?.every((m) => m >= 0 && m <= 6)).toBe(true);
  });

  it('with one object, the box is the tight box of the mask and the label its class', () => {
    const size = 48;
    const ds = syntheticScenes({
      count: 10,
      size,
      numClasses: 20,
      seed: 11,
      minObjects: 1,
      maxObjects: 1,
    });
    const b = ds.get(range(10));
    for (let i = 0; i < 10; i++) {
      const [box] = b.boxes?.[i] ?? [];
      let x0 = size;
      let y0 = size;
      let x1 = 0;
      let y1 = 0;
      let area = 0;
      for (let p = 0; p < size * size; p++) {
        const m = b.masks?.[i * size * size + p] as number;
        if (m === 0) continue;
        expect(m).toBe((b.labels[i] as number) + 1);
        const y = Math.floor(p / size);
        const x = p % size;
        area++;
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x + 1);
        y1 = Math.max(y1, y + 1);
      }
      expect(box).toEqual({ classId: b.labels[i], x0, y0, x1, y1, area });
    }
  });

  it('colours an object pixel with its class colour (solid red circle, class 0)', () => {
    const ds = syntheticScenes({ count: 5, size: 32, numClasses: 1, seed: 2, maxObjects: 1 });
    const b = ds.get(range(5));
    for (let p = 0; p < 5 * 32 * 32; p++) {
      if (b.masks?.[p] !== 1) continue;
      const r = b.images[3 * p] as number;
      const g = b.images[3 * p + 1] as number;
      // red 0.9 scaled by a brightness in [0.8, 1] plus grain of at most 0.04
      expect(r).toBeGreaterThan(0.9 * 0.8 - 0.05);
      expect(r).toBeGreaterThan(2 * g);
    }
  });

  it('rejects bad options and indices, naming them', () => {
    const ok = { count: 4, size: 32, numClasses: 3, seed: 0 };
    expect(() => syntheticScenes({ ...ok, size: 8 })).toThrow(
      /size must be an integer >= 16, got 8/,
    );
    expect(() => syntheticScenes({ ...ok, numClasses: 0 })).toThrow(
      /numClasses must be an integer >= 1, got 0/,
    );
    expect(() => syntheticScenes({ ...ok, numClasses: 200 })).toThrow(/at most 126, got 200/);
    expect(() => syntheticScenes({ ...ok, minObjects: 3, maxObjects: 2 })).toThrow(
      /maxObjects.*>= 3, got 2/,
    );
    expect(() => syntheticScenes({ ...ok, seed: Number.NaN })).toThrow(
      /seed must be a finite number, got NaN/,
    );
    expect(() => syntheticScenes(ok).get([4])).toThrow(
      /index 4 \(position 0\) must be an integer in \[0, 4\)/,
    );
  });
});
