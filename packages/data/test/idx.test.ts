import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { loadIdx, parseIdx } from '@ediy/data';
import { encodeIdx, idxPair, pattern, tempDir } from './fixtures.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('loadIdx', () => {
  const { images, labels } = idxPair(5, 3, 4);

  it('reads plain and gzipped files to the same dataset (gzip found by magic, not name)', async () => {
    const plain = await loadIdx(write('imgs', images), write('lbls', labels));
    const gz = await loadIdx(
      write('imgs.gz', gzipSync(images)),
      write('lbls.bin', gzipSync(labels)),
    );
    expect(plain.size).toBe(5);
    expect(plain.imageShape).toEqual([3, 4, 1]);
    expect(plain.numClasses).toBe(10);
    const a = plain.get([0, 1, 2, 3, 4]);
    const b = gz.get([0, 1, 2, 3, 4]);
    expect(b.images).toEqual(a.images);
    expect(Array.from(a.labels)).toEqual([0, 1, 2, 3, 4]);
    // item 2, pixel (row 1, col 3) = byte pattern(2, 7), divided by 255
    expect(a.images[2 * 12 + 7]).toBeCloseTo(pattern(2, 7) / 255, 6);
    expect(b.labels).toEqual(a.labels);
  });

  it('expands to 3 channels on request', async () => {
    const rgb = await loadIdx(write('i3', images), write('l3', labels), { channels: 3 });
    expect(rgb.imageShape).toEqual([3, 4, 3]);
    const x = rgb.get([1]).images;
    expect(x[3 * 5]).toBeCloseTo(pattern(1, 5) / 255, 6);
    expect(x[3 * 5 + 1]).toBe(x[3 * 5]);
    expect(x[3 * 5 + 2]).toBe(x[3 * 5]);
  });

  it('parses a header by hand', () => {
    const bytes = Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]);
    const { shape, data } = parseIdx(bytes, 1, 'l');
    expect(shape).toEqual([3]);
    expect(Array.from(data)).toEqual([7, 8, 9]);
  });

  it('names the file and the expected magic on a wrong magic number', async () => {
    const bad = images.slice();
    new DataView(bad.buffer).setUint32(0, 0x12345678, false);
    const path = write('train-images.gz', gzipSync(bad));
    await expect(loadIdx(path, write('l4', labels))).rejects.toThrow(
      `${path}: IDX magic 0x00000803 expected, got 0x12345678`,
    );
    // a label file given as the image file
    const swapped = write('swapped', labels);
    await expect(loadIdx(swapped, write('l5', labels))).rejects.toThrow(
      `${swapped}: IDX magic 0x00000803 expected, got 0x00000801`,
    );
  });

  it('names the file on truncated, corrupt or missing input', async () => {
    const cut = write('cut', images.subarray(0, images.length - 3));
    await expect(loadIdx(cut, write('l6', labels))).rejects.toThrow(
      `${cut}: truncated IDX file: shape [5,3,4] needs ${images.length} bytes, got ${images.length - 3}`,
    );
    const gz = gzipSync(images);
    const cutGz = write('cut.gz', gz.subarray(0, gz.length - 10));
    await expect(loadIdx(cutGz, write('l7', labels))).rejects.toThrow(
      `${cutGz}: gzip data is corrupt or truncated`,
    );
    const missing = join(dir, 'nope.gz');
    await expect(loadIdx(write('i8', images), missing)).rejects.toThrow(
      `${missing}: file not found (expected an IDX label file`,
    );
    const tiny = write('tiny', Uint8Array.from([0, 0]));
    await expect(loadIdx(tiny, write('l9', labels))).rejects.toThrow(
      `${tiny}: IDX magic 0x00000803 expected, but the file has only 2 bytes`,
    );
  });

  it('rejects labels out of range and count mismatches, naming the label file', async () => {
    const lbl = write('l10', encodeIdx([5], Uint8Array.from([0, 1, 2, 3, 4])));
    await expect(loadIdx(write('i10', images), lbl, { numClasses: 4 })).rejects.toThrow(
      `${lbl}: label 4 of item 4 out of range: expected a class in [0, 4)`,
    );
    const short = write('l11', encodeIdx([4], Uint8Array.from([0, 1, 2, 3])));
    await expect(loadIdx(write('i11', images), short)).rejects.toThrow(`${short}: 4 labels, but`);
    const wide = await loadIdx(
      write('i12', images),
      write('l12', encodeIdx([5], Uint8Array.from([0, 1, 2, 3, 12]))),
    );
    expect(wide.numClasses).toBe(13);
  });
});
