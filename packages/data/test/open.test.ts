import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatasetPath } from '@ediy/data';
import { cifarRecords, idxPair, tempDir } from './fixtures.js';

const { dir, cleanup } = tempDir('ediy-open-');
afterAll(cleanup);

function png(path: string, w: number, h: number): void {
  const img = new PNG({ width: w, height: h });
  img.data.fill(200);
  writeFileSync(path, PNG.sync.write(img));
}

describe('openDatasetPath', () => {
  it('recognises an IDX folder (gzipped) and picks the split', async () => {
    const root = join(dir, 'fashion');
    mkdirSync(root);
    const train = idxPair(5, 4, 4);
    const test = idxPair(3, 4, 4);
    writeFileSync(join(root, 'train-images-idx3-ubyte.gz'), gzipSync(train.images));
    writeFileSync(join(root, 'train-labels-idx1-ubyte.gz'), gzipSync(train.labels));
    writeFileSync(join(root, 't10k-images-idx3-ubyte'), test.images);
    writeFileSync(join(root, 't10k-labels-idx1-ubyte'), test.labels);
    const a = await openDatasetPath(root, 'train');
    const b = await openDatasetPath(root, 'test');
    expect([a.size, ...a.imageShape]).toEqual([5, 4, 4, 3]);
    expect([b.size, ...b.imageShape]).toEqual([3, 4, 4, 3]);
  });

  it('recognises CIFAR-10 batches, also inside cifar-10-batches-bin/', async () => {
    const root = join(dir, 'cifar');
    const inner = join(root, 'cifar-10-batches-bin');
    mkdirSync(inner, { recursive: true });
    writeFileSync(
      join(inner, 'data_batch_1.bin'),
      cifarRecords(2, 10, (i) => [i]),
    );
    writeFileSync(
      join(inner, 'data_batch_2.bin'),
      cifarRecords(3, 10, (i) => [i]),
    );
    writeFileSync(
      join(inner, 'test_batch.bin'),
      cifarRecords(1, 10, () => [7]),
    );
    expect((await openDatasetPath(root, 'train')).size).toBe(5);
    const test = await openDatasetPath(root, 'test');
    expect(test.size).toBe(1);
    expect(Array.from(test.get([0]).labels)).toEqual([7]);
  });

  it('opens any other folder as an image folder at the given size', async () => {
    const root = join(dir, 'images');
    mkdirSync(join(root, 'cats'), { recursive: true });
    mkdirSync(join(root, 'dogs'), { recursive: true });
    png(join(root, 'cats', 'a.png'), 10, 8);
    png(join(root, 'dogs', 'b.png'), 6, 6);
    const ds = await openDatasetPath(root, 'train', 12);
    expect([ds.size, ...ds.imageShape, ds.numClasses]).toEqual([2, 12, 12, 3, 2]);
  });

  it('names a missing path and an unrecognised file', async () => {
    const missing = join(dir, 'nope');
    await expect(openDatasetPath(missing)).rejects.toThrow(`${missing}: data path not found`);
    const odd = join(dir, 'notes.txt');
    writeFileSync(odd, 'x');
    await expect(openDatasetPath(odd)).rejects.toThrow(`${odd}: unrecognised data file`);
  });
});
