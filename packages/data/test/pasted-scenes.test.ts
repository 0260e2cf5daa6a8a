import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  arrayDataset,
  HELD_OUT_SEED_OFFSET,
  openDataParts,
  openPastedScenes,
  parseDataArg,
  pasteScenes,
} from '@ediy/data';
import { encodeIdx, tempDir } from './fixtures.js';
import { writeImage } from './images.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

/** `n` 8x8 items: a 4x4 square of value `v` on black, labels `i mod 2`, as IDX files in `folder`. */
function writeItems(folder: string, prefix: 'train' | 't10k', n: number, v: number): void {
  const pixels = new Uint8Array(n * 64);
  for (let i = 0; i < n; i++)
    for (let r = 2; r < 6; r++) for (let c = 2; c < 6; c++) pixels[i * 64 + r * 8 + c] = v;
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, `${prefix}-images-idx3-ubyte`), encodeIdx([n, 8, 8], pixels));
  writeFileSync(
    join(folder, `${prefix}-labels-idx1-ubyte`),
    encodeIdx(
      [n],
      Uint8Array.from({ length: n }, (_, i) => i % 2),
    ),
  );
}

describe('openPastedScenes', () => {
  const items = join(dir, 'items');
  writeItems(items, 'train', 20, 153); // training items are 0.6
  writeItems(items, 't10k', 6, 255); // held-out items are 1.0
  const photos = join(dir, 'photos');

  it('pastes training items into training scenes and held-out items into held-out scenes, on held-out photos', async () => {
    const colours: [number, number, number][] = [
      [40, 0, 0],
      [0, 40, 0],
      [0, 0, 40],
      [40, 40, 0],
      [0, 40, 40],
    ];
    for (const [i, c] of colours.entries())
      await writeImage(join(photos, `p${i}.png`), 20, 20, () => c);
    const parts = await openPastedScenes({
      kind: 'pasted',
      path: items,
      count: 12,
      heldOutCount: 8,
      size: 16,
      seed: 1,
      background: { folder: photos },
    });
    expect([parts.how, parts.train.size, parts.heldOut.size]).toEqual(['files', 12, 8]);
    expect(parts.train.imageShape).toEqual([16, 16, 3]);
    expect(parts.train.hasMasks).toBe(true);
    const bgColour = (ds: typeof parts.train, idx: number[]) => {
      const b = ds.get(idx);
      const itemValues = new Set<number>();
      const backgrounds = new Set<string>();
      for (let q = 0; q < idx.length * 256; q++) {
        const px = [0, 1, 2].map((k) => Math.round(b.images[q * 3 + k]! * 255));
        if (b.masks![q]! > 0) {
          itemValues.add(px[0]!);
          // the mask value is the item's class + 1
          expect([1, 2]).toContain(b.masks![q]);
        } else backgrounds.add(px.join(','));
      }
      return { itemValues, backgrounds };
    };
    const tr = bgColour(parts.train, [...Array(12).keys()]);
    const te = bgColour(parts.heldOut, [...Array(8).keys()]);
    expect([...tr.itemValues]).toEqual([153]);
    expect([...te.itemValues]).toEqual([255]);
    // backgrounds are photos, and the held-out photo is not one training scenes use
    const photoSet = new Set(colours.map((c) => c.join(',')));
    for (const b of [...tr.backgrounds, ...te.backgrounds]) expect(photoSet.has(b)).toBe(true);
    for (const b of te.backgrounds) expect(tr.backgrounds.has(b)).toBe(false);
    // same spec, same scenes; the held-out scenes are of seed + offset
    const again = await openDataParts({
      kind: 'pasted',
      path: items,
      count: 12,
      heldOutCount: 8,
      size: 16,
      seed: 1,
      background: { folder: photos },
    });
    expect(again.heldOut.get([3]).images).toEqual(parts.heldOut.get([3]).images);
    expect(parts.heldOut.name).toContain(`seed=${1 + HELD_OUT_SEED_OFFSET}`);
    expect(parts.report).toMatch(
      /^scenes pasted from .*: 12 training and 8 held-out scenes\n.*photos: 4 training and 1 held-out backgrounds$/,
    );
  });

  it('names a canvas smaller than the items, and bad backgrounds', async () => {
    await expect(
      openPastedScenes({ kind: 'pasted', path: items, count: 4, size: 6, seed: 0 }),
    ).rejects.toThrow('size 6 is smaller than the items of');
    const source = arrayDataset({
      name: 'src',
      images: new Uint8Array(2 * 4 * 4),
      imageShape: [4, 4, 1],
      labels: Int32Array.from([0, 1]),
      numClasses: 2,
    });
    const wrong = arrayDataset({
      name: 'bg',
      images: new Uint8Array(8 * 8 * 3),
      imageShape: [8, 8, 3],
      labels: Int32Array.from([-1]),
      numClasses: 0,
    });
    expect(() =>
      pasteScenes(source, { count: 2, size: 16, seed: 0, channels: 3, background: wrong }),
    ).toThrow('background dataset bg has 1 images of 8x8x3, expected at least one of 16x16x3');
    await expect(
      openPastedScenes({
        kind: 'pasted',
        path: items,
        count: 4,
        size: 16,
        seed: 0,
        background: { folder: join(dir, 'none') },
      }),
    ).rejects.toThrow('folder not found');
  });
});

describe('parseDataArg', () => {
  it('reads scenes:<path> as pasted scenes and anything else as a path', () => {
    const d = { count: 100, size: 32, seed: 7 };
    expect(parseDataArg('scenes:/data/fashion', d)).toEqual({
      kind: 'pasted',
      path: '/data/fashion',
      ...d,
    });
    expect(parseDataArg('/data/photos', d)).toEqual({
      kind: 'path',
      path: '/data/photos',
      size: 32,
    });
    expect(() => parseDataArg('scenes:', d)).toThrow(
      'data argument must be a path or scenes:<path>, got "scenes:"',
    );
  });
});
