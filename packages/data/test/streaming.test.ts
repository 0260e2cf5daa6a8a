import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@ediy/backend';
import {
  cropBox,
  disposeBatch,
  scanImageFolder,
  StreamingImageLoader,
  type FolderScan,
  type StreamArrayBatch,
  type StreamingLoaderOptions,
} from '@ediy/data';
import { tempDir } from './fixtures.js';
import { CLASS_COLOURS, writeClassFolder, writeImage, writeTruncatedJpeg } from './images.js';

const { dir, cleanup } = tempDir();
let scan: FolderScan;
const open: StreamingImageLoader[] = [];
const loader = (options: Partial<StreamingLoaderOptions> = {}, src: FolderScan = scan) => {
  const l = new StreamingImageLoader(src, {
    size: 8,
    batchSize: 4,
    seed: 3,
    workers: 2,
    ...options,
  });
  open.push(l);
  return l;
};
const take = async (l: StreamingImageLoader, n: number): Promise<StreamArrayBatch[]> => {
  const out: StreamArrayBatch[] = [];
  for (let i = 0; i < n; i++) out.push(await l.nextArrays());
  return out;
};

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
  await writeClassFolder(join(dir, 'folder'), 3, 6);
  scan = await scanImageFolder(join(dir, 'folder'));
});
afterAll(async () => {
  await Promise.all(open.map((l) => l.close()));
  cleanup();
});

describe('cropBox', () => {
  it('draws random resized crops inside the image with area and aspect in range', () => {
    const rng = new Rng(1);
    const spec = { kind: 'random-resized', scale: [0.2, 0.6], ratio: [0.5, 2] } as const;
    let fallbacks = 0;
    for (let t = 0; t < 500; t++) {
      const b = cropBox(100, 60, spec, rng);
      expect(b.left >= 0 && b.top >= 0 && b.left + b.width <= 100 && b.top + b.height <= 60).toBe(
        true,
      );
      const share = (b.width * b.height) / 6000;
      if (share > 0.62 || share < 0.18) fallbacks++;
      expect(b.width / b.height).toBeGreaterThan(0.45);
      expect(b.width / b.height).toBeLessThan(2.2);
    }
    expect(fallbacks).toBe(0);
    expect(cropBox(100, 60, { kind: 'center', fraction: 0.5 }, rng)).toEqual({
      left: 35,
      top: 15,
      width: 30,
      height: 30,
    });
    expect(cropBox(7, 3, { kind: 'full' }, rng)).toEqual({ left: 0, top: 0, width: 7, height: 3 });
    // a 1000x10 strip fits no crop of aspect <= 4/3 and 8%+ of the area: the centred fallback
    expect(cropBox(1000, 10, { kind: 'random-resized' }, rng)).toEqual({
      left: 493,
      top: 0,
      width: 13,
      height: 10,
    });
  });
});

describe('StreamingImageLoader', () => {
  it('decodes, crops and resizes in worker threads: shapes, labels and pixels', async () => {
    const l = loader({ crop: { kind: 'center' } });
    expect(l.stepsPerEpoch).toBe(4); // 18 items, batch 4, drop last
    const b = await l.nextArrays();
    expect(b.images.length).toBe(4 * 8 * 8 * 3);
    expect(b.position).toEqual({ epoch: 0, index: 0 });
    for (let j = 0; j < 4; j++) {
      const item = scan.items[b.indices[j] as number]!;
      expect(b.labels[j]).toBe(item.label);
      const colour = CLASS_COLOURS[item.label]!;
      // solid colour JPEGs: every output pixel is the class colour, up to JPEG error
      for (let p = 0; p < 64; p++) {
        for (let c = 0; c < 3; c++) {
          const v = b.images[(j * 64 + p) * 3 + c]! * 255;
          expect(Math.abs(v - colour[c]!)).toBeLessThan(12);
        }
      }
      const side = Math.min(item.width, item.height);
      expect(b.crops[j]).toEqual({
        left: Math.floor((item.width - side) / 2),
        top: Math.floor((item.height - side) / 2),
        width: side,
        height: side,
      });
    }
    // one epoch visits distinct items
    const rest = await take(l, 3);
    const seen = new Set([b, ...rest].flatMap((x) => Array.from(x.indices)));
    expect(seen.size).toBe(16);
    expect(l.position()).toEqual({ epoch: 1, index: 0 });
  });

  it('reads the right pixels of the crop box, mirrored when flipped', async () => {
    // left half red, right half blue: the full image with flip shows blue on the left
    const root = join(dir, 'halves');
    await writeImage(join(root, 'a', 'x.png'), 16, 16, (x) => (x < 8 ? [255, 0, 0] : [0, 0, 255]));
    const halves = await scanImageFolder(root);
    const items = Array.from({ length: 8 }, () => halves.items[0]!);
    const l = loader(
      { crop: { kind: 'full' }, flip: true, batchSize: 8, size: 4 },
      {
        ...halves,
        items,
      },
    );
    // EXIF orientation 6 turns the stored image a quarter clockwise: its left (red) half is the top
    const turned = join(dir, 'turned');
    await writeImage(
      join(turned, 'a', 'x.jpg'),
      32,
      16,
      (x) => (x < 16 ? [255, 0, 0] : [0, 0, 255]),
      {
        orientation: 6,
      },
    );
    const t = await scanImageFolder(turned);
    const tl = loader({ crop: { kind: 'full' }, batchSize: 1, size: 8 }, t);
    const tb = await tl.nextArrays();
    expect(tb.crops[0]).toEqual({ left: 0, top: 0, width: 16, height: 32 });
    expect(tb.images[0]).toBeGreaterThan(0.9); // top-left red
    expect(tb.images[7 * 8 * 3 + 2]).toBeGreaterThan(0.9); // bottom-left blue

    const b = await l.nextArrays();
    expect(b.flipped.some((f) => f) && b.flipped.some((f) => !f)).toBe(true);
    for (let j = 0; j < 8; j++) {
      const red = b.images[j * 48 + 0]!; // pixel (0, 0), channel R
      const blue = b.images[j * 48 + 2]!;
      if (b.flipped[j]) expect([red, blue]).toEqual([0, 1]);
      else expect([red, blue]).toEqual([1, 0]);
    }
  });

  it('gives the same batches for the same seed, whatever the number of threads; another seed differs', async () => {
    const a = await take(loader({ workers: 1, prefetch: 1 }), 6);
    const b = await take(loader({ workers: 2, prefetch: 3 }), 6);
    for (let i = 0; i < 6; i++) {
      expect(b[i]!.position).toEqual(a[i]!.position);
      expect(Array.from(b[i]!.indices)).toEqual(Array.from(a[i]!.indices));
      expect(b[i]!.crops).toEqual(a[i]!.crops);
      expect(b[i]!.images).toEqual(a[i]!.images);
    }
    const c = await take(loader({ seed: 4 }), 1);
    expect(Array.from(c[0]!.indices)).not.toEqual(Array.from(a[0]!.indices));
    // random resized crops: not all the whole image
    expect(
      a.flatMap((x) => x.crops).some((cr, k) => cr.width * cr.height < 0.9 * 24 * 20 || k < 0),
    ).toBe(true);
  });

  it('resumes exactly from a saved state (JSON), across an epoch boundary', async () => {
    const full = await take(loader(), 7);
    const first = loader();
    await take(first, 3);
    const saved = JSON.parse(JSON.stringify(first.state())) as ReturnType<typeof first.state>;
    expect(saved).toMatchObject({ epoch: 0, index: 3, seed: 3, size: 18 });
    const resumed = loader();
    resumed.restore(saved);
    const rest = await take(resumed, 4);
    for (let i = 0; i < 4; i++) {
      expect(rest[i]!.position).toEqual(full[i + 3]!.position);
      expect(Array.from(rest[i]!.indices)).toEqual(Array.from(full[i + 3]!.indices));
      expect(rest[i]!.images).toEqual(full[i + 3]!.images);
    }
    // calls made without awaiting the previous one get the batches in call order
    const eager = loader({ prefetch: 1 });
    const all = await Promise.all(Array.from({ length: 5 }, () => eager.nextArrays()));
    expect(all.map((x) => x.position)).toEqual(full.slice(0, 5).map((x) => x.position));
    expect(all[4]!.images).toEqual(full[4]!.images);
    // a seek while batches are decoding ahead drops them and still reads the right batch
    const s = loader({ prefetch: 3 });
    await take(s, 1);
    s.seek({ epoch: 1, index: 1 });
    const b = await s.nextArrays();
    expect(b.images).toEqual(full[5]!.images);
    // a state of other items or another seed is refused
    const fewer = loader({}, { ...scan, items: scan.items.slice(1) });
    expect(() => fewer.restore(saved)).toThrow(
      /state is of seed 3 and 18 items, this loader has seed 3 and 17/,
    );
    const renamed = loader(
      {},
      { ...scan, items: scan.items.map((i) => ({ ...i, path: `${i.path}x` })) },
    );
    expect(() => renamed.restore(saved)).toThrow(
      /differ from this loader's .*: the folder changed/,
    );
    expect(() => resumed.seek({ epoch: 0, index: 4 })).toThrow(
      'position.index must be below stepsPerEpoch 4, got 4',
    );
  });

  it('never holds more batches than its prefetch depth', async () => {
    for (const prefetch of [1, 3]) {
      const l = loader({ prefetch });
      expect(l.stats().held).toBe(0); // nothing is decoded before the first request
      for (let i = 0; i < 6; i++) {
        await l.nextArrays();
        expect(l.stats().held).toBeLessThanOrEqual(prefetch);
        // a slow training step: the loader fills up to its depth, and no further
        await new Promise((r) => setTimeout(r, 30));
        expect(l.stats().held).toBe(prefetch);
      }
      l.seek({ epoch: 2, index: 0 });
      await l.nextArrays();
      const stats = l.stats();
      expect(stats.maxHeld).toBe(prefetch);
      expect(stats.delivered).toBe(7);
    }
  });

  it('makes tensors the caller disposes, with no tensor left behind', async () => {
    const l = loader();
    const before = tf.memory().numTensors;
    for await (const batch of l.epoch()) {
      expect(batch.images.shape).toEqual([4, 8, 8, 3]);
      expect(batch.labels.dtype).toBe('int32');
      disposeBatch(batch);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(l.position()).toEqual({ epoch: 1, index: 0 });
  });

  it('replaces an image that fails to decode and reports it; strict makes it an error', async () => {
    const root = join(dir, 'broken');
    await writeClassFolder(root, 2, 3);
    const cut = await writeTruncatedJpeg(join(root, 'class1', 'cut.jpg'));
    const broken = await scanImageFolder(root); // the header is intact: listed as readable
    expect(broken.items.map((i) => i.path)).toContain(cut);
    const seen: string[] = [];
    const l = loader(
      { batchSize: 7, shuffle: false, onUnreadable: (u) => seen.push(u.path) },
      broken,
    );
    const b = await l.nextArrays();
    const k = broken.items.findIndex((i) => i.path === cut);
    expect(seen).toEqual([cut]);
    expect(l.unreadable[0]?.reason.length).toBeGreaterThan(5);
    // the next item of the dataset (wrapping round) stands in its place
    expect(b.indices[k]).toBe((k + 1) % 7);
    expect(b.labels[k]).toBe(broken.items[(k + 1) % 7]!.label);
    const strict = loader({ batchSize: 7, shuffle: false, strict: true }, broken);
    await expect(strict.nextArrays()).rejects.toThrow(`${cut}: cannot decode (`);
    await expect(strict.nextArrays()).rejects.toThrow(/strict: unreadable images are errors/);
  });

  it('names bad options', () => {
    expect(() => loader({ size: 0 })).toThrow(
      'StreamingImageLoader: size must be an integer >= 1, got 0',
    );
    expect(() => loader({ prefetch: 0 })).toThrow('prefetch must be an integer >= 1, got 0');
    expect(() => loader({ batchSize: 19 })).toThrow(/has 18 items, fewer than batchSize 19/);
    expect(() => loader({ crop: { kind: 'random-resized', scale: [0.5, 0.2] } })).toThrow(
      'crop.scale must be [min, max] with 0 < min <= max <= 1, got [0.5, 0.2]',
    );
    expect(() => loader({ numClasses: 2 })).toThrow(/has label 2, expected a class in \[0, 2\)/);
    expect(() => new StreamingImageLoader([], { size: 8, batchSize: 1, seed: 0 })).toThrow(
      'has no items',
    );
  });
});
