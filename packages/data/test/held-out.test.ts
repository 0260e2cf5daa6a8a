import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  datasetLabels,
  HELD_OUT_SEED_OFFSET,
  heldOutSample,
  loadFolderScan,
  openDataParts,
  openPathParts,
  probeSplit,
  scanImageFolder,
  splitImageFolder,
  stratifiedSplit,
  syntheticScenes,
  type Dataset,
} from '@ediy/data';
import { cifarRecords, idxPair, tempDir } from './fixtures.js';
import { CLASS_COLOURS, writeClassFolder, writeTruncatedJpeg } from './images.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

const count = (a: ArrayLike<number>, y: number): number =>
  Array.from(a).filter((v) => v === y).length;

/** Nearest class mean of the mean colour: 1.0 on any part of a folder of solid-colour classes. */
function centroidAccuracy(ds: Dataset, train: Int32Array, test: Int32Array): number {
  const [h, w, c] = ds.imageShape;
  const feature = (idx: Int32Array) => {
    const b = ds.get(idx);
    return Array.from(idx, (_, i) => {
      const f = [0, 0, 0];
      for (let p = 0; p < h * w; p++)
        for (let k = 0; k < c; k++) f[k]! += b.images[(i * h * w + p) * c + k]!;
      return { f, y: b.labels[i]! };
    });
  };
  const means = new Map<number, { s: number[]; n: number }>();
  for (const { f, y } of feature(train)) {
    const m = means.get(y) ?? { s: [0, 0, 0], n: 0 };
    m.s = m.s.map((v, k) => v + f[k]!);
    m.n++;
    means.set(y, m);
  }
  let right = 0;
  const scored = feature(test);
  for (const { f, y } of scored) {
    let best = -1;
    let bestD = Infinity;
    for (const [k, m] of means) {
      const d = m.s.reduce((acc, v, j) => acc + (v / m.n - f[j]!) ** 2, 0);
      if (d < bestD) [best, bestD] = [k, d];
    }
    if (best === y) right++;
  }
  return right / scored.length;
}

describe('stratifiedSplit and probeSplit', () => {
  it('splits every class in proportion, disjointly, seeded', () => {
    const labels = Int32Array.from({ length: 103 }, (_, i) => (i < 60 ? 0 : i < 100 ? 1 : 2));
    const { train, test } = stratifiedSplit(labels, { testFraction: 0.2, seed: 5 });
    expect(train.length + test.length).toBe(103);
    expect(new Set([...train, ...test]).size).toBe(103);
    expect(test.length).toBe(Math.round(103 * 0.2));
    expect([
      count(
        Array.from(test, (k) => labels[k]!),
        0,
      ),
      count(
        Array.from(test, (k) => labels[k]!),
        1,
      ),
    ]).toEqual([12, 8]);
    // a class of 3 still has an item in each part
    expect(
      count(
        Array.from(test, (k) => labels[k]!),
        2,
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(
      count(
        Array.from(train, (k) => labels[k]!),
        2,
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(stratifiedSplit(labels, { testFraction: 0.2, seed: 5 })).toEqual({ train, test });
    expect(stratifiedSplit(labels, { testFraction: 0.2, seed: 6 }).test).not.toEqual(test);
    expect(() => stratifiedSplit([0, 1.5], { testFraction: 0.5, seed: 0 })).toThrow(
      'stratifiedSplit: label 1.5 of item 1 must be a class index >= 0 or -1 (unlabeled)',
    );
    expect(() => stratifiedSplit([0], { testFraction: 2, seed: 0 })).toThrow(
      'testFraction must be a number in [0, 1], got 2',
    );
  });

  it('gives probes a shuffled training part and a disjoint scored part with every class (not class-sorted halves)', () => {
    // class-sorted, as a folder comes: the first 80% is nearly all class 0
    const labels = Int32Array.from({ length: 40 }, (_, i) => (i < 20 ? 0 : 1));
    const { train, test } = probeSplit(labels, { trainFraction: 0.8, seed: 0 });
    expect(train.length).toBe(32);
    expect(test.length).toBe(8);
    expect(new Set([...train, ...test]).size).toBe(40);
    expect(
      count(
        Array.from(test, (k) => labels[k]!),
        1,
      ),
    ).toBe(4);
    expect(
      count(
        Array.from(test, (k) => labels[k]!),
        0,
      ),
    ).toBe(4);
    // shuffled: the training part's first items are not all one class
    expect(new Set(Array.from(train.subarray(0, 8), (k) => labels[k]!)).size).toBe(2);
    expect(() => probeSplit(labels, { trainFraction: 1, seed: 0 })).toThrow(
      'trainFraction must be in (0, 1), got 1',
    );
    expect(() => probeSplit([3], { trainFraction: 0.5, seed: 0 })).toThrow(
      /1 images give 0 to train and 1 to score/,
    );
  });
});

describe('held-out parts of image folders', () => {
  it('splits a plain folder once, stratified, and leaves the held-out part out of training', async () => {
    const root = join(dir, 'plain');
    await writeClassFolder(root, 2, 10);
    const splits = await splitImageFolder(root, { heldOutFraction: 0.2 });
    expect(splits.how).toBe('split');
    expect(splits.train.items.length).toBe(16);
    expect(splits.heldOut.items.length).toBe(4);
    const trainPaths = new Set(splits.train.items.map((i) => i.path));
    expect(splits.heldOut.items.some((i) => trainPaths.has(i.path))).toBe(false);
    expect(
      count(
        splits.heldOut.items.map((i) => i.label),
        0,
      ),
    ).toBe(2);
    expect(
      count(
        splits.heldOut.items.map((i) => i.label),
        1,
      ),
    ).toBe(2);
    expect(splits.report).toBe(
      `${root}: 16 training and 4 held-out images (held out: a seeded 20% of each class)`,
    );
    // once: the same folder gives the same split every time
    const again = await splitImageFolder(root, { heldOutFraction: 0.2 });
    expect(again.heldOut.items.map((i) => i.path)).toEqual(splits.heldOut.items.map((i) => i.path));
    expect(
      (await splitImageFolder(root, { splitSeed: 1 })).heldOut.items.map((i) => i.path),
    ).not.toEqual(splits.heldOut.items.map((i) => i.path));
  });

  it("uses train/ and val/ (or test/) as they are, with train's class indices", async () => {
    const root = join(dir, 'imagenet');
    await writeClassFolder(join(root, 'train'), 3, 4);
    await writeClassFolder(join(root, 'val'), 3, 2);
    const splits = await splitImageFolder(root);
    expect(splits.how).toBe('folders');
    expect(splits.train.root).toBe(join(root, 'train'));
    expect(splits.heldOut.root).toBe(join(root, 'val'));
    expect(splits.heldOut.items.length).toBe(6);
    expect(splits.heldOut.classNames).toEqual(['class0', 'class1', 'class2']);
    const other = join(dir, 'withtest');
    await writeClassFolder(join(other, 'train'), 2, 3);
    await writeClassFolder(join(other, 'test'), 2, 1);
    expect((await splitImageFolder(other)).heldOut.root).toBe(join(other, 'test'));
    // a lone train/ is split like a plain folder
    const lone = join(dir, 'lone');
    await writeClassFolder(join(lone, 'train'), 2, 5);
    const l = await splitImageFolder(lone);
    expect([l.how, l.train.root, l.train.classNames]).toEqual([
      'split',
      join(lone, 'train'),
      ['class0', 'class1'],
    ]);
  });

  it('reports unreadable images with a count, and strict makes them errors', async () => {
    const root = join(dir, 'withbad');
    await writeClassFolder(root, 2, 5);
    writeFileSync(join(root, 'class0', 'bad.jpg'), 'nope');
    const splits = await splitImageFolder(root);
    expect(splits.unreadable.map((u) => u.path)).toEqual([join(root, 'class0', 'bad.jpg')]);
    expect(splits.report.split('\n').slice(1).join('\n')).toMatch(
      new RegExp(`^${root}: 1 of 11 images are unreadable:\n {2}class0/bad.jpg: .+$`),
    );
    await expect(splitImageFolder(root, { strict: true })).rejects.toThrow(
      /strict: unreadable images are errors/,
    );
  });

  it('in memory: a trivially separable 2-class folder scores 1.0 on its held-out part', async () => {
    const root = join(dir, 'separable');
    await writeClassFolder(root, 2, 25);
    const parts = await openPathParts(root, { size: 8 });
    expect(parts.how).toBe('split');
    expect([parts.train.size, parts.heldOut.size]).toEqual([40, 10]);
    const heldOutLabels = datasetLabels(parts.heldOut);
    expect(count(heldOutLabels, 0)).toBe(5);
    const { train, test } = probeSplit(heldOutLabels, { trainFraction: 0.8, seed: 0 });
    expect(centroidAccuracy(parts.heldOut, train, test)).toBe(1);
    // what the first-80% rule did on class-sorted images: it scores only class 1 and trains mostly on class 0
    const sorted = await loadFolderScan(await scanImageFolder(root), { size: 8 });
    const sortedLabels = datasetLabels(sorted);
    const first = Int32Array.from({ length: 40 }, (_, i) => i);
    expect(
      count(
        Array.from(first.subarray(30), (k) => sortedLabels[k]!),
        0,
      ),
    ).toBe(0);
    // pixels decoded by sharp: the class colour
    const b = parts.heldOut.get([0]);
    const colour = CLASS_COLOURS[b.labels[0]!]!;
    expect(Math.abs(b.images[0]! * 255 - colour[0])).toBeLessThan(12);
  });

  it('loadFolderScan leaves out (or with strict, refuses) images that fail to decode', async () => {
    const root = join(dir, 'cutfolder');
    await writeClassFolder(root, 1, 2);
    const cut = await writeTruncatedJpeg(join(root, 'class0', 'cut.jpg'));
    const scan = await scanImageFolder(root);
    const ds = await loadFolderScan(scan, { size: 4 });
    expect(ds.size).toBe(2);
    expect(ds.skipped.map((s) => s.path)).toEqual([cut]);
    await expect(loadFolderScan(scan, { size: 4, strict: true })).rejects.toThrow(
      `${cut}: cannot decode (`,
    );
  });
});

describe('held-out parts of IDX, CIFAR and the embedded scenes', () => {
  it('uses IDX and CIFAR test files as they are, and splits a source that has none', async () => {
    const idx = join(dir, 'fashion');
    const tr = idxPair(30, 4, 4, 3);
    const te = idxPair(9, 4, 4, 3);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(idx, { recursive: true });
    writeFileSync(join(idx, 'train-images-idx3-ubyte'), tr.images);
    writeFileSync(join(idx, 'train-labels-idx1-ubyte'), tr.labels);
    const lone = await openPathParts(idx);
    expect([lone.how, lone.train.size, lone.heldOut.size]).toEqual(['split', 24, 6]);
    expect(count(datasetLabels(lone.heldOut), 0)).toBe(2);
    writeFileSync(join(idx, 't10k-images-idx3-ubyte'), te.images);
    writeFileSync(join(idx, 't10k-labels-idx1-ubyte'), te.labels);
    const both = await openPathParts(idx);
    expect([both.how, both.train.size, both.heldOut.size, both.train.imageShape[2]]).toEqual([
      'files',
      30,
      9,
      3,
    ]);
    const file = await openPathParts(join(idx, 'train-images-idx3-ubyte'));
    expect([file.how, file.heldOut.size]).toEqual(['files', 9]);

    const cifar = join(dir, 'cifar');
    mkdirSync(cifar, { recursive: true });
    writeFileSync(
      join(cifar, 'data_batch_1.bin'),
      cifarRecords(20, 10, (i) => [i % 2]),
    );
    writeFileSync(
      join(cifar, 'data_batch_2.bin'),
      cifarRecords(20, 10, (i) => [i % 2]),
    );
    const split = await openPathParts(cifar);
    expect([split.how, split.train.size, split.heldOut.size]).toEqual(['split', 32, 8]);
    writeFileSync(
      join(cifar, 'test_batch.bin'),
      cifarRecords(6, 10, (i) => [i % 2]),
    );
    const files = await openPathParts(cifar);
    expect([files.how, files.train.size, files.heldOut.size]).toEqual(['files', 40, 6]);
    expect(files.report).toBe(
      `${cifar}: 40 training and 6 held-out images (held out: ${join(cifar, 'test_batch.bin')})`,
    );
    await expect(openPathParts(join(dir, 'nothing'))).rejects.toThrow('data path not found');
  });

  it('holds out embedded scenes of another seed, and samples held-out data stratified', async () => {
    const parts = await openDataParts({
      kind: 'scenes',
      count: 40,
      size: 16,
      numClasses: 3,
      seed: 2,
    });
    expect([parts.how, parts.train.size, parts.heldOut.size]).toEqual(['seed', 40, 64]);
    const expected = syntheticScenes({
      count: 64,
      size: 16,
      numClasses: 3,
      seed: 2 + HELD_OUT_SEED_OFFSET,
    });
    expect(parts.heldOut.get([5]).images).toEqual(expected.get([5]).images);
    const sample = heldOutSample(parts.heldOut, 30, 1);
    expect(sample.size).toBe(30);
    const all = datasetLabels(parts.heldOut);
    const got = datasetLabels(sample);
    for (const y of [0, 1, 2])
      expect(Math.abs(count(got, y) - (count(all, y) * 30) / 64)).toBeLessThan(1);
    await expect(openDataParts({ kind: 'web' } as never)).rejects.toThrow(
      "spec.kind must be 'scenes', 'path' or 'pasted', got web",
    );
  });
});
