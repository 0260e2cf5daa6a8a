import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage, loadImageFolder, resizeSquare, sniffImageFormat } from '@ediy/data';
import { tempDir } from './fixtures.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

/** A w x h PNG filled with one RGB colour. */
function png(w: number, h: number, rgb: [number, number, number]): Uint8Array {
  const img = new pngjs.PNG({ width: w, height: h });
  for (let p = 0; p < w * h; p++) img.data.set([...rgb, 255], 4 * p);
  return pngjs.PNG.sync.write(img);
}

/** A w x h JPEG filled with one RGB colour. */
function jpg(w: number, h: number, rgb: [number, number, number]): Uint8Array {
  const data = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) data.set([...rgb, 255], 4 * p);
  return jpeg.encode({ width: w, height: h, data }, 95).data;
}

function put(rel: string, bytes: Uint8Array | string): string {
  const path = join(dir, rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

describe('resizeSquare', () => {
  it('averages a 2x2 image to 1x1 and keeps a constant image constant', () => {
    const img = { width: 2, height: 2, channels: 1, data: Uint8Array.from([0, 100, 200, 100]) };
    expect(Array.from(resizeSquare(img, 1))).toEqual([100]);
    const flat = { width: 3, height: 5, channels: 3, data: new Uint8Array(45).fill(77) };
    expect(resizeSquare(flat, 4).every((v) => v === 77)).toBe(true);
    // 4 -> 1: triangle filter of support 4 centred at 2: weights 5, 7, 7, 5 (/24)
    const four = { width: 4, height: 1, channels: 1, data: Uint8Array.from([0, 24, 48, 240]) };
    expect(Array.from(resizeSquare(four, 1, 'stretch'))).toEqual([
      Math.round((7 * 24 + 7 * 48 + 5 * 240) / 24),
    ]);
    expect(() => resizeSquare({ ...four, data: new Uint8Array(3) }, 1)).toThrow(
      'image.data must hold 4x1x1 = 4 bytes, got 3',
    );
  });

  it('center-crops the middle square, or stretches the whole image', () => {
    // a 3x1 row 10, 20, 30: the centred 1x1 square is the 20
    const row = { width: 3, height: 1, channels: 1, data: Uint8Array.from([10, 20, 30]) };
    expect(Array.from(resizeSquare(row, 1, 'center-crop'))).toEqual([20]);
    expect(Array.from(resizeSquare(row, 1, 'stretch'))).toEqual([20]);
    // a 4x2 image: columns 0 and 3 are 0, columns 1 and 2 are 90 and 30: crop = the middle 2x2
    const img = {
      width: 4,
      height: 2,
      channels: 1,
      data: Uint8Array.from([0, 90, 30, 0, 0, 90, 30, 0]),
    };
    expect(Array.from(resizeSquare(img, 2, 'center-crop'))).toEqual([90, 30, 90, 30]);
    // upscaling a 2x1 row 0, 100 to 4: bilinear samples at 0.25, 0.75 -> 0, 25, 75, 100 (edges clamp)
    const up = { width: 2, height: 1, channels: 1, data: Uint8Array.from([0, 100]) };
    expect(Array.from(resizeSquare(up, 4, 'stretch').subarray(0, 4))).toEqual([0, 25, 75, 100]);
  });
});

describe('decodeImage', () => {
  it('decodes PNG exactly and JPEG closely, found by magic number', () => {
    expect(sniffImageFormat(png(2, 2, [1, 2, 3]))).toBe('png');
    expect(sniffImageFormat(jpg(2, 2, [1, 2, 3]))).toBe('jpeg');
    const p = decodeImage(png(3, 2, [250, 10, 60]), 'a.png');
    expect([p.width, p.height, p.channels]).toEqual([3, 2, 3]);
    expect(Array.from(p.data.subarray(0, 3))).toEqual([250, 10, 60]);
    const j = decodeImage(jpg(8, 8, [20, 200, 90]), 'b.jpg');
    for (const [k, v] of [20, 200, 90].entries())
      expect(Math.abs((j.data[k] as number) - v)).toBeLessThanOrEqual(6);
  });

  it('names the file when the bytes are not an image or are corrupt', () => {
    expect(() => decodeImage(new TextEncoder().encode('hello'), 'x.png')).toThrow(
      'x.png: not a PNG or JPEG (expected magic 89 50 4e 47 or ff d8 ff, got 68 65 6c 6c)',
    );
    const cut = png(8, 8, [1, 2, 3]).subarray(0, 40);
    expect(() => decodeImage(cut, 'cut.png')).toThrow(/^cut.png: cannot decode PNG: /);
  });
});

describe('loadImageFolder', () => {
  put('folder/cat/one.png', png(10, 6, [255, 0, 0]));
  put('folder/cat/nested/two.JPG', jpg(8, 8, [0, 0, 255]));
  put('folder/dog/three.jpeg', jpg(12, 12, [0, 255, 0]));
  put('folder/dog/notes.txt', 'not an image, ignored');
  put('folder/top.png', png(4, 4, [9, 9, 9]));

  it('reads subfolders as classes, decoding PNG and JPEG and resizing them', async () => {
    const ds = await loadImageFolder(join(dir, 'folder'), { size: 4 });
    expect(ds.size).toBe(3);
    expect(ds.numClasses).toBe(2);
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect(ds.imageShape).toEqual([4, 4, 3]);
    expect(ds.files.map((f) => f.slice(dir.length + 1))).toEqual([
      'folder/cat/nested/two.JPG',
      'folder/cat/one.png',
      'folder/dog/three.jpeg',
    ]);
    expect(ds.skipped).toEqual([]);
    const b = ds.get([0, 1, 2]);
    expect(Array.from(b.labels)).toEqual([0, 0, 1]);
    const px = (i: number, c: number): number => b.images[i * 48 + 5 * 3 + c] as number;
    expect(px(1, 0)).toBe(1); // red PNG: exact
    expect(px(1, 1)).toBe(0);
    expect(px(0, 2)).toBeGreaterThan(0.95); // blue JPEG
    expect(px(0, 0)).toBeLessThan(0.05);
    expect(px(2, 1)).toBeGreaterThan(0.95); // green JPEG
  });

  it('reads every image unlabeled, or as one gray channel', async () => {
    const ds = await loadImageFolder(join(dir, 'folder'), {
      size: 2,
      labeled: 'none',
      channels: 1,
    });
    expect(ds.size).toBe(4);
    expect(ds.numClasses).toBe(0);
    expect(ds.imageShape).toEqual([2, 2, 1]);
    const b = ds.get([0, 1, 2, 3]);
    expect(Array.from(b.labels)).toEqual([-1, -1, -1, -1]);
    // cat/one.png is red: luma 0.299 * 255 = 76
    expect(b.images[4]).toBeCloseTo(76 / 255, 6);
  });

  it('lists unreadable images, or skips them with skipUnreadable', async () => {
    put('mixed/a/good.png', png(4, 4, [1, 2, 3]));
    put('mixed/a/broken.png', 'garbage');
    put('mixed/b/cut.jpg', jpg(16, 16, [5, 5, 5]).subarray(0, 30));
    await expect(loadImageFolder(join(dir, 'mixed'), { size: 4 })).rejects.toThrow(
      /2 of 3 images are unreadable \(pass skipUnreadable: true to skip them\):\n {2}a\/broken.png: .*not a PNG or JPEG.*\n {2}b\/cut.jpg: .*cannot decode JPEG/,
    );
    const ds = await loadImageFolder(join(dir, 'mixed'), { size: 4, skipUnreadable: true });
    expect(ds.size).toBe(1);
    expect(ds.numClasses).toBe(2);
    expect(ds.skipped.map((s) => s.path)).toEqual([
      join(dir, 'mixed/a/broken.png'),
      join(dir, 'mixed/b/cut.jpg'),
    ]);
    expect(ds.skipped[0]?.reason).toMatch(/not a PNG or JPEG/);
  });

  it('names a missing or empty folder and bad options', async () => {
    await expect(loadImageFolder(join(dir, 'absent'), { size: 4 })).rejects.toThrow(
      `${join(dir, 'absent')}: folder not found (expected a folder of PNG/JPEG images)`,
    );
    put('empty/a/readme.txt', 'x');
    await expect(loadImageFolder(join(dir, 'empty'), { size: 4 })).rejects.toThrow(
      `${join(dir, 'empty')}: no image files found`,
    );
    put('flat/x.png', png(2, 2, [0, 0, 0]));
    await expect(loadImageFolder(join(dir, 'flat'), { size: 4 })).rejects.toThrow(
      /no subfolders; labeled: 'subfolders' expects/,
    );
    await expect(loadImageFolder(join(dir, 'flat'), { size: 0 })).rejects.toThrow(
      'size must be an integer >= 1, got 0',
    );
  });
});
