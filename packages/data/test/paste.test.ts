import { describe, expect, it } from 'vitest';
import { arrayDataset, pasteScenes } from '@ediy/data';

/** Two 4x4 gray items: item 0 (class 1) has a bright 2x2 block at rows 1-2, cols 1-2; item 1 (class 0) a bright column 0. */
function source() {
  const images = new Uint8Array(2 * 16);
  for (const p of [5, 6, 9, 10]) images[p] = 200;
  for (const r of [0, 1, 2, 3]) images[16 + r * 4] = 255;
  images[3] = 10; // a dim pixel below the threshold: neither pasted nor masked
  return arrayDataset({
    name: 'tiny',
    images,
    imageShape: [4, 4, 1],
    labels: Int32Array.from([1, 0]),
    numClasses: 2,
    classNames: ['col', 'block'],
  });
}

describe('pasteScenes', () => {
  it('pastes item pixels above the threshold with their class in the mask', () => {
    const ds = pasteScenes(source(), { count: 20, size: 8, seed: 4, minObjects: 1, maxObjects: 1 });
    expect(ds.imageShape).toEqual([8, 8, 1]);
    expect(ds.numClasses).toBe(2);
    expect(ds.classNames).toEqual(['col', 'block']);
    const b = ds.get(Array.from({ length: 20 }, (_, i) => i));
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const label = b.labels[i] as number;
      seen.add(label);
      const [box] = b.boxes?.[i] ?? [];
      expect(box?.classId).toBe(label);
      let area = 0;
      for (let p = 0; p < 64; p++) {
        const m = b.masks?.[i * 64 + p] as number;
        const v = b.images[i * 64 + p] as number;
        if (m === 0) {
          expect(v).toBe(0); // black canvas, the dim pixel not pasted
          continue;
        }
        area++;
        expect(m).toBe(label + 1);
        expect(v).toBeCloseTo(label === 1 ? 200 / 255 : 1, 6);
        const y = Math.floor(p / 8);
        const x = p % 8;
        expect(
          x >= (box?.x0 ?? 9) && x < (box?.x1 ?? -1) && y >= (box?.y0 ?? 9) && y < (box?.y1 ?? -1),
        ).toBe(true);
      }
      expect(area).toBe(4); // the 2x2 block or the 4-pixel column
      expect(box?.area).toBe(4);
      expect((box!.x1 - box!.x0) * (box!.y1 - box!.y0)).toBe(4);
    }
    expect(seen).toEqual(new Set([0, 1]));
  });

  it('is deterministic, labels the largest visible item and expands gray to RGB', () => {
    const opts = {
      count: 6,
      size: 6,
      seed: 9,
      maxObjects: 3,
      channels: 3 as const,
      background: 'texture' as const,
    };
    const a = pasteScenes(source(), opts).get([0, 1, 2, 3, 4, 5]);
    const b = pasteScenes(source(), opts).get([0, 1, 2, 3, 4, 5]);
    expect(b).toEqual(a);
    expect(a.images.length).toBe(6 * 36 * 3);
    for (let i = 0; i < 6; i++) {
      const boxes = a.boxes?.[i] ?? [];
      const largest = boxes.reduce((x, o) => (o.area > x.area ? o : x));
      expect(a.labels[i]).toBe(largest.classId);
      for (let p = 0; p < 36; p++) {
        if (a.masks?.[i * 36 + p] === 0) continue;
        const q = (i * 36 + p) * 3;
        expect(a.images[q + 1]).toBe(a.images[q]);
        expect(a.images[q + 2]).toBe(a.images[q]);
      }
    }
  });

  it('rejects an unlabeled or too large source and bad options', () => {
    const unlabeled = arrayDataset({
      name: 'u',
      images: new Uint8Array(16),
      imageShape: [4, 4, 1],
      labels: Int32Array.from([-1]),
      numClasses: 0,
    });
    expect(() => pasteScenes(unlabeled, { count: 1, size: 8, seed: 0 })).toThrow(
      'source u is unlabeled (numClasses 0)',
    );
    expect(() => pasteScenes(source(), { count: 1, size: 3, seed: 0 })).toThrow(
      'size 3 is smaller than the items of tiny (4x4); expected size >= 4',
    );
    expect(() => pasteScenes(source(), { count: 1, size: 8, seed: 0, threshold: 2 })).toThrow(
      'threshold must be a number in [0, 1], got 2',
    );
    expect(() => pasteScenes(source(), { count: 0, size: 8, seed: 0 })).toThrow(
      'count must be an integer >= 1, got 0',
    );
  });
});
