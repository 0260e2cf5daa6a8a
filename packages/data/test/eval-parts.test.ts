import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  datasetStream,
  openEvalParts,
  shuffledSample,
  splitImageFolder,
  syntheticScenes,
  type DatasetBatch,
  type ImageStream,
} from '@ediy/data';
import { idxPair, tempDir } from './fixtures.js';
import { CLASS_COLOURS, writeClassFolder } from './images.js';

const { dir, cleanup } = tempDir('ediy-eval-parts-');
afterAll(cleanup);

async function readAll(
  s: ImageStream,
  batchSize: number,
): Promise<{ batches: number[]; all: DatasetBatch }> {
  const images: Float32Array[] = [];
  const labels: number[] = [];
  const batches: number[] = [];
  for await (const b of s.batches(batchSize)) {
    batches.push(b.labels.length);
    images.push(b.images);
    labels.push(...b.labels);
  }
  const all = new Float32Array(images.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of images) {
    all.set(a, at);
    at += a.length;
  }
  return { batches, all: { images: all, labels: Int32Array.from(labels) } };
}

const count = (a: ArrayLike<number>, y: number): number =>
  Array.from(a).filter((v) => v === y).length;

describe('openEvalParts', () => {
  it("streams capped, stratified, shuffled samples of a folder's two parts, never a training image among the scored", async () => {
    const root = join(dir, 'folder');
    await writeClassFolder(root, 2, 20); // 32 training, 8 held-out images
    const parts = await openEvalParts(
      { kind: 'path', path: root, size: 8 },
      { memory: 10, scored: Infinity },
    );
    expect(parts.how).toBe('split');
    expect(parts.sizes).toEqual({ train: 32, heldOut: 8 });
    expect([parts.train.size, parts.heldOut.size]).toEqual([10, 8]);
    expect(parts.train.streamed && parts.heldOut.streamed).toBe(true);
    expect(parts.heldOut.imageShape).toEqual([8, 8, 3]);
    expect(parts.report).toMatch(
      /32 training and 8 held-out images.*; evaluation: 10 training images as memory, 8 held-out images scored/,
    );
    const train = await readAll(parts.train, 4);
    expect(train.batches).toEqual([4, 4, 2]);
    expect(count(train.all.labels, 0)).toBe(5); // stratified: half of each class
    const held = await readAll(parts.heldOut, 3);
    expect(count(held.all.labels, 0)).toBe(4);
    // shuffled, not class-sorted: the first four scored images are not all of one class
    expect(new Set(held.all.labels.subarray(0, 4)).size).toBe(2);
    // each image is its class's solid colour, centre cropped and resized
    const px = 8 * 8 * 3;
    for (let i = 0; i < held.all.labels.length; i++) {
      const colour = CLASS_COLOURS[held.all.labels[i] as number] as readonly number[];
      expect(
        Math.abs((held.all.images[i * px] as number) * 255 - (colour[0] as number)),
      ).toBeLessThan(12);
    }
    // every call of batches() starts over, in the same order
    expect((await readAll(parts.heldOut, 8)).all.labels).toEqual(held.all.labels);
    // the same seed gives the same sample; the held-out files are the split's held-out part
    const splits = await splitImageFolder(root);
    const again = await openEvalParts(
      { kind: 'path', path: root, size: 8 },
      { memory: 10, scored: Infinity },
    );
    expect((await readAll(again.train, 10)).all.labels).toEqual(train.all.labels);
    expect(shuffledSample(splits.heldOut.items, 8).map((i) => i.label)).toEqual(
      Array.from(held.all.labels),
    );
    const trainPaths = new Set(splits.train.items.map((i) => i.path));
    expect(shuffledSample(splits.heldOut.items, 8).some((i) => trainPaths.has(i.path))).toBe(false);
  });

  it('stopping a stream early frees it, and the next read starts over', async () => {
    const root = join(dir, 'early');
    await writeClassFolder(root, 2, 10);
    const parts = await openEvalParts(
      { kind: 'path', path: root, size: 8 },
      { memory: Infinity, scored: Infinity },
    );
    let first: Int32Array | undefined;
    for await (const b of parts.train.batches(4)) {
      first = b.labels;
      break;
    }
    const all = await readAll(parts.train, 4);
    expect(all.all.labels.subarray(0, 4)).toEqual(first);
    expect(all.all.labels.length).toBe(16);
  });

  it('samples in-memory sources (IDX test files, embedded scenes) the same way', async () => {
    const idx = join(dir, 'idx');
    mkdirSync(idx, { recursive: true });
    const train = idxPair(30, 4, 4, 3);
    const test = idxPair(12, 4, 4, 3);
    writeFileSync(join(idx, 'train-images-idx3-ubyte'), train.images);
    writeFileSync(join(idx, 'train-labels-idx1-ubyte'), train.labels);
    writeFileSync(join(idx, 't10k-images-idx3-ubyte'), test.images);
    writeFileSync(join(idx, 't10k-labels-idx1-ubyte'), test.labels);
    const parts = await openEvalParts({ kind: 'path', path: idx }, { memory: 9, scored: 6 });
    expect(parts.how).toBe('files');
    expect(parts.sizes).toEqual({ train: 30, heldOut: 12 });
    expect([parts.train.size, parts.heldOut.size, parts.heldOut.streamed]).toEqual([9, 6, false]);
    const held = await readAll(parts.heldOut, 4);
    expect(held.batches).toEqual([4, 2]);
    for (const y of [0, 1, 2]) expect(count(held.all.labels, y)).toBe(2);
    const scenes = await openEvalParts(
      { kind: 'scenes', count: 16, size: 16, numClasses: 3, seed: 2 },
      { memory: Infinity, scored: 5, heldOutCount: 8 },
    );
    expect([scenes.how, scenes.train.size, scenes.heldOut.size]).toEqual(['seed', 16, 5]);
    expect(scenes.heldOut.hasMasks).toBe(true);
    const b = (await readAll(scenes.heldOut, 5)).all;
    expect(b.labels.length).toBe(5);
  });

  it('names a bad cap', async () => {
    const spec = { kind: 'scenes', count: 8, size: 16, numClasses: 2, seed: 0 } as const;
    await expect(openEvalParts(spec, { memory: 0, scored: 4 })).rejects.toThrow(
      /openEvalParts: memory must be an integer >= 1, got 0/,
    );
    await expect(openEvalParts(spec, { memory: 4, scored: 2.5 })).rejects.toThrow(
      /openEvalParts: scored must be an integer/,
    );
    expect(() => shuffledSample([], 0)).toThrow(/max must be >= 1, got 0/);
  });

  it('datasetStream reads a dataset in order, in chunks', async () => {
    const d = syntheticScenes({ count: 7, size: 16, numClasses: 2, seed: 1 });
    const { batches, all } = await readAll(datasetStream(d), 3);
    expect(batches).toEqual([3, 3, 1]);
    expect(all.images).toEqual(d.get([0, 1, 2, 3, 4, 5, 6]).images);
  });
});
