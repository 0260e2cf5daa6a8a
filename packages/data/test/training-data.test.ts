import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import {
  disposeBatch,
  isImageFolderPath,
  openTrainingData,
  sampleScan,
  scanImageFolder,
  type TrainingBatches,
} from '@ediy/data';
import { encodeIdx, tempDir } from './fixtures.js';
import { writeClassFolder } from './images.js';

const { dir, cleanup } = tempDir();
const folder = join(dir, 'folder');
const open: TrainingBatches[] = [];

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
  await writeClassFolder(folder, 3, 10);
});
afterAll(async () => {
  await Promise.all(open.map((b) => b.close()));
  cleanup();
});

describe('openTrainingData', () => {
  it('streams an image folder: every training batch is of the training part, none held out', async () => {
    const data = await openTrainingData({ kind: 'path', path: folder, size: 12 });
    expect(data).toMatchObject({ streamed: true, size: 24, how: 'split', imageShape: [12, 12, 3] });
    // the held-out 20% is not in what is streamed: 24 of 30 images, 4 batches of 5
    expect(data.report).toMatch(/24 training and 6 held-out images/);
    const batches = data.batches({ batchSize: 5, seed: 1, workers: 1 });
    open.push(batches);
    expect(batches).toMatchObject({ streamed: true, stepsPerEpoch: 4 });
    const before = tf.memory().numTensors;
    const seen = new Set<number>();
    for (let s = 0; s < 4; s++) {
      const b = await batches.next();
      expect(b.images.shape).toEqual([5, 12, 12, 3]);
      for (const i of b.indices) seen.add(i);
      disposeBatch(b);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(seen.size).toBe(20);
    expect(batches.state()).toMatchObject({ epoch: 1, index: 0, size: 24, seed: 1 });
  });

  it('decodes only the sampled images of a part, stratified', async () => {
    const data = await openTrainingData({ kind: 'path', path: folder, size: 8 });
    const held = await data.sample('heldOut', 3, 0);
    expect(held.size).toBe(3);
    expect(held.imageShape).toEqual([8, 8, 3]);
    const labels = Array.from(held.get([0, 1, 2]).labels).sort();
    expect(labels).toEqual([0, 1, 2]); // one of each class
    expect((await data.sample('heldOut', 100)).size).toBe(6);
    expect((await data.sample('train', 100)).size).toBe(24);
  });

  it('opens other sources in memory behind the same interface, resuming at a position', async () => {
    const idx = join(dir, 'idx');
    mkdirSync(idx, { recursive: true });
    const n = 12;
    writeFileSync(
      join(idx, 'train-images-idx3-ubyte'),
      encodeIdx(
        [n, 4, 4],
        Uint8Array.from({ length: n * 16 }, (_, p) => p % 256),
      ),
    );
    writeFileSync(
      join(idx, 'train-labels-idx1-ubyte'),
      encodeIdx(
        [n],
        Uint8Array.from({ length: n }, (_, i) => i % 2),
      ),
    );
    expect(isImageFolderPath(idx)).toBe(false);
    expect(isImageFolderPath(folder)).toBe(true);
    const data = await openTrainingData({ kind: 'path', path: idx });
    expect(data).toMatchObject({ streamed: false, how: 'split' });
    const a = data.batches({ batchSize: 3, seed: 2 });
    const b = data.batches({ batchSize: 3, seed: 2 });
    open.push(a, b);
    disposeBatch(await a.next());
    b.restore(a.state());
    const [x, y] = [await a.next(), await b.next()];
    expect(Array.from(y.indices)).toEqual(Array.from(x.indices));
    disposeBatch(x);
    disposeBatch(y);
  });
});

describe('sampleScan', () => {
  it('takes a stratified, seeded sample of a scan without decoding', async () => {
    const scan = await scanImageFolder(folder);
    const s = sampleScan(scan, 6, 4);
    expect(s.items).toHaveLength(6);
    expect(s.items.map((i) => i.label).sort()).toEqual([0, 0, 1, 1, 2, 2]);
    expect(sampleScan(scan, 6, 4).items).toEqual(s.items);
    expect(sampleScan(scan, 100)).toBe(scan);
    expect(() => sampleScan(scan, 0)).toThrow('sampleScan: max must be >= 1, got 0');
  });
});
