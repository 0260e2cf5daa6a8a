import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CIFAR10_CLASSES, loadCifar } from '@ediy/data';
import { cifarRecords, pattern, tempDir } from './fixtures.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('loadCifar', () => {
  it('reads CIFAR-10 records, converting CHW to HWC, across several files', async () => {
    const a = write(
      'data_batch_1.bin',
      cifarRecords(3, 10, (i) => [i]),
    );
    const b = write(
      'data_batch_2.bin',
      cifarRecords(2, 10, (i) => [9 - i]),
    );
    const ds = await loadCifar([a, b], { variant: 10 });
    expect(ds.size).toBe(5);
    expect(ds.imageShape).toEqual([32, 32, 3]);
    expect(ds.numClasses).toBe(10);
    expect(ds.classNames).toEqual(CIFAR10_CLASSES);
    const batch = ds.get([0, 1, 2, 3, 4]);
    expect(Array.from(batch.labels)).toEqual([0, 1, 2, 9, 8]);
    // item 1, row 2, column 5, channel G: stored at G-plane offset 1024 + 2*32 + 5
    const p = 2 * 32 + 5;
    expect(batch.images[1 * 3072 + p * 3 + 1]).toBeCloseTo(pattern(1, 1024 + p) / 255, 6);
    expect(batch.images[1 * 3072 + p * 3 + 0]).toBeCloseTo(pattern(1, p) / 255, 6);
    expect(batch.images[1 * 3072 + p * 3 + 2]).toBeCloseTo(pattern(1, 2048 + p) / 255, 6);
    // item 3 is the first record of the second file
    expect(batch.images[3 * 3072]).toBeCloseTo(pattern(0, 0) / 255, 6);
  });

  it('reads CIFAR-100 fine labels by default, coarse on request', async () => {
    const path = write(
      'train.bin',
      cifarRecords(2, 100, (i) => [i + 3, 90 + i]),
    );
    const fine = await loadCifar(path, { variant: 100 });
    expect(fine.numClasses).toBe(100);
    expect(Array.from(fine.get([0, 1]).labels)).toEqual([90, 91]);
    const coarse = await loadCifar(path, { variant: 100, labels: 'coarse' });
    expect(coarse.numClasses).toBe(20);
    expect(Array.from(coarse.get([0, 1]).labels)).toEqual([3, 4]);
    const x = fine.get([1]).images;
    expect(x[0]).toBeCloseTo(pattern(1, 0) / 255, 6);
  });

  it('names the file on a truncated file, a wrong variant, a bad label or a missing file', async () => {
    const full = cifarRecords(2, 10, () => [1]);
    const cut = write('cut.bin', full.subarray(0, full.length - 100));
    await expect(loadCifar(cut, { variant: 10 })).rejects.toThrow(
      `${cut}: CIFAR-10 file must be a whole number of 3073-byte records, got ${full.length - 100} bytes (1 records and 2973 extra bytes: truncated, or the wrong variant?)`,
    );
    const ten = write(
      'ten.bin',
      cifarRecords(3, 10, () => [1]),
    );
    await expect(loadCifar(ten, { variant: 100 })).rejects.toThrow(
      `${ten}: CIFAR-100 file must be a whole number of 3074-byte records`,
    );
    const badLabel = write(
      'bad.bin',
      cifarRecords(3, 10, (i) => [i === 2 ? 10 : 0]),
    );
    await expect(loadCifar(badLabel, { variant: 10 })).rejects.toThrow(
      `${badLabel}: label 10 of record 2 out of range: expected a class in [0, 10)`,
    );
    const missing = join(dir, 'test_batch.bin');
    await expect(loadCifar(missing, { variant: 10 })).rejects.toThrow(
      `${missing}: file not found (expected a CIFAR-10 binary batch)`,
    );
    const empty = write('empty.bin', new Uint8Array(0));
    await expect(loadCifar(empty, { variant: 10 })).rejects.toThrow(
      `${empty}: CIFAR-10 file must be a whole number of 3073-byte records, got 0 bytes`,
    );
    await expect(loadCifar(ten, { variant: 1 as 10 })).rejects.toThrow(
      'variant must be 10 or 100, got 1',
    );
  });
});
