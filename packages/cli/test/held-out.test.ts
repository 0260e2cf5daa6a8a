import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { syntheticScenes } from '@ediy/data';
import { HELD_OUT_SEED_OFFSET, openHeldOut, openParts } from '@ediy/cli';
import { tempDir } from './helpers.js';

function writeImage(path: string, value: number): void {
  const png = new PNG({ width: 8, height: 8 });
  png.data.fill(value);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  writeFileSync(path, PNG.sync.write(png));
}

/** An IDX file: magic (0, 0, 8 = ubyte, ndims), big-endian dims, then bytes. */
function idx(dims: number[], bytes: number[]): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(head.buffer);
  view.setUint8(2, 8);
  view.setUint8(3, dims.length);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  return new Uint8Array([...head, ...bytes]);
}

describe('openHeldOut', () => {
  it('draws held-out scenes from another seed than the training scenes', async () => {
    const data = { kind: 'scenes', count: 32, size: 20, numClasses: 3, seed: 1 } as const;
    const held = await openHeldOut(data, 8);
    expect(held.size).toBe(8);
    const expected = syntheticScenes({
      count: 8,
      size: 20,
      numClasses: 3,
      seed: 1 + HELD_OUT_SEED_OFFSET,
    }).get([0, 5]);
    expect(held.get([0, 5]).images).toEqual(expected.images);
    const train = syntheticScenes({ count: 8, size: 20, numClasses: 3, seed: 1 }).get([0]);
    expect(held.get([0]).images).not.toEqual(train.images);
  });

  it("uses an image folder's test/ sub-folder, else a seeded fifth of it", async () => {
    const dir = tempDir('ediy-heldout-');
    for (const split of ['train', 'test']) {
      for (const [k, cls] of ['a', 'b'].entries()) {
        mkdirSync(join(dir, split, cls), { recursive: true });
        for (let i = 0; i < (split === 'test' ? 2 : 5); i++)
          writeImage(join(dir, split, cls, `${i}.png`), 40 * k + i);
      }
    }
    const withTest = await openHeldOut({ kind: 'path', path: dir, size: 8 }, 100);
    expect(withTest.size).toBe(4);
    expect(withTest.imageShape).toEqual([8, 8, 3]);
    const plain = await openHeldOut({ kind: 'path', path: join(dir, 'train'), size: 8 }, 100);
    expect(plain.size).toBe(2); // round(10 * 0.2)
    expect(plain.numClasses).toBe(2);
  });

  it('reads the t10k files of an IDX folder as the held-out part, the train files as the training part', async () => {
    const dir = tempDir('ediy-heldout-idx-');
    writeFileSync(
      join(dir, 't10k-images-idx3-ubyte'),
      idx([3, 2, 2], [0, 255, 0, 255, 1, 2, 3, 4, 9, 9, 9, 9]),
    );
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx([3], [1, 0, 1]));
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), idx([2, 2, 2], [5, 5, 5, 5, 6, 6, 6, 6]));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([2], [0, 1]));
    const held = await openHeldOut({ kind: 'path', path: dir }, 10);
    expect(held.size).toBe(3);
    expect(held.imageShape).toEqual([2, 2, 3]);
    const batch = held.get([0]);
    expect(Array.from(batch.images.subarray(0, 6))).toEqual([0, 0, 0, 1, 1, 1]);
    expect(Array.from(held.get([0, 1, 2]).labels)).toEqual([1, 0, 1]);
    const parts = await openParts({ kind: 'path', path: dir });
    expect(parts.how).toBe('files');
    expect(parts.train.size).toBe(2);
    expect(Array.from(parts.train.get([1]).images.subarray(0, 3))).toEqual(
      Array.from(new Float32Array([6, 6, 6].map((v) => v / 255))),
    );
  });

  it('names a path it cannot read', async () => {
    await expect(openHeldOut({ kind: 'path', path: '/no/such/data' }, 4)).rejects.toThrow(
      /\/no\/such\/data: data path not found/,
    );
    const dir = tempDir('ediy-heldout-bad-');
    writeFileSync(join(dir, 'notes.txt'), 'x');
    await expect(openHeldOut({ kind: 'path', path: join(dir, 'notes.txt') }, 4)).rejects.toThrow(
      /notes.txt: unrecognised data file/,
    );
  });
});
