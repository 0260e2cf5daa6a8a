import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { formatUnreadable, scanCachePath, scanImageFolder } from '@ediy/data';
import { tempDir } from './fixtures.js';
import { writeImage, writeTruncatedJpeg } from './images.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

describe('scanImageFolder', () => {
  it('lists images by class with their oriented sizes, without decoding them', async () => {
    const root = join(dir, 'plain');
    await writeImage(join(root, 'b', 'x.png'), 8, 6, () => [1, 2, 3]);
    await writeImage(join(root, 'a', 'deep', 'y.jpg'), 10, 4, () => [9, 9, 9]);
    // EXIF orientation 6 (rotated 90 degrees): 30x12 stored, 12x30 as seen
    await writeImage(join(root, 'a', 'z.jpg'), 30, 12, () => [5, 5, 5], { orientation: 6 });
    writeFileSync(join(root, 'a', 'notes.txt'), 'ignored');
    const scan = await scanImageFolder(root);
    expect(scan.classNames).toEqual(['a', 'b']);
    expect(scan.total).toBe(3);
    expect(scan.unreadable).toEqual([]);
    expect(
      scan.items.map((i) => [i.path.slice(root.length + 1), i.label, i.width, i.height]),
    ).toEqual([
      ['a/deep/y.jpg', 0, 10, 4],
      ['a/z.jpg', 0, 12, 30],
      ['b/x.png', 1, 8, 6],
    ]);
    expect(formatUnreadable(scan)).toBe('');
    const flat = await scanImageFolder(root, { labeled: 'none' });
    expect(flat.items.map((i) => i.label)).toEqual([-1, -1, -1]);
  });

  it('lists unreadable images with the reason and a count; strict makes them an error', async () => {
    const root = join(dir, 'mixed');
    await writeImage(join(root, 'a', 'good.jpg'), 8, 8, () => [1, 2, 3]);
    writeFileSync(join(root, 'a', 'text.jpg'), 'not an image at all');
    await writeTruncatedJpeg(join(root, 'b', 'cut.jpg'));
    writeFileSync(join(root, 'b', 'empty.png'), '');
    const scan = await scanImageFolder(root);
    // the header of cut.jpg is intact: only a full decode finds it
    expect(scan.items.map((i) => i.path.slice(root.length + 1))).toEqual([
      'a/good.jpg',
      'b/cut.jpg',
    ]);
    expect(scan.unreadable.map((u) => u.path.slice(root.length + 1))).toEqual([
      'a/text.jpg',
      'b/empty.png',
    ]);
    for (const u of scan.unreadable) expect(u.reason.length).toBeGreaterThan(5);
    const report = formatUnreadable(scan);
    expect(report.split('\n')[0]).toBe(`${root}: 2 of 4 images are unreadable:`);
    expect(report).toMatch(/\n {2}a\/text.jpg: .+\n {2}b\/empty.png: .+$/);
    expect(formatUnreadable(scan, 1)).toMatch(/\n {2}\.\.\. and 1 more$/);

    const decoded = await scanImageFolder(root, { verify: 'decode' });
    expect(decoded.items.map((i) => i.path.slice(root.length + 1))).toEqual(['a/good.jpg']);
    expect(decoded.unreadable.map((u) => u.path.slice(root.length + 1))).toEqual([
      'a/text.jpg',
      'b/cut.jpg',
      'b/empty.png',
    ]);
    await expect(scanImageFolder(root, { strict: true })).rejects.toThrow(
      /2 of 4 images are unreadable:\n {2}a\/text.jpg: .+\n {2}b\/empty.png: .+\n\(strict: unreadable images are errors\)$/,
    );
  });

  it('keeps file headers in a cache, read again only for new or changed files', async () => {
    const root = join(dir, 'cached');
    const a = await writeImage(join(root, 'a', 'x.jpg'), 8, 6, () => [1, 2, 3]);
    const b = await writeImage(join(root, 'a', 'y.jpg'), 10, 4, () => [1, 2, 3]);
    const cache = join(dir, 'scan-cache.json');
    const first = await scanImageFolder(root, { cache });
    expect(first.items.map((i) => [i.width, i.height])).toEqual([
      [8, 6],
      [10, 4],
    ]);
    // a cache entry that matches the file's size and time is used as it is: fake it to see
    const body = JSON.parse(readFileSync(cache, 'utf8')) as {
      entries: Record<string, unknown[]>;
    };
    expect(Object.keys(body.entries).sort()).toEqual([a, b]);
    body.entries[a]![2] = 99;
    writeFileSync(cache, JSON.stringify(body));
    await writeImage(b, 12, 12, () => [4, 5, 6]); // changed: read again
    const second = await scanImageFolder(root, { cache });
    expect(second.items.map((i) => [i.width, i.height])).toEqual([
      [99, 6],
      [12, 12],
    ]);
    // a header-level cache cannot answer a full decode check
    const decoded = await scanImageFolder(root, { cache, verify: 'decode' });
    expect(decoded.items[0]?.width).toBe(8);
    writeFileSync(cache, 'not json');
    expect((await scanImageFolder(root, { cache })).items[0]?.width).toBe(8);
  });

  it('keeps a cache per folder by default (under EDIY_CACHE_DIR), so a later command reads no header again', async () => {
    const saved = process.env.EDIY_CACHE_DIR;
    process.env.EDIY_CACHE_DIR = join(dir, 'cache-home');
    try {
      const root = join(dir, 'default-cache');
      const a = await writeImage(join(root, 'a', 'x.jpg'), 8, 6, () => [1, 2, 3]);
      const path = scanCachePath(root);
      expect(path.startsWith(join(dir, 'cache-home', 'scans'))).toBe(true);
      expect(scanCachePath(root, 'decode')).not.toBe(path);
      await scanImageFolder(root);
      const body = JSON.parse(readFileSync(path, 'utf8')) as { entries: Record<string, unknown[]> };
      expect(Object.keys(body.entries)).toEqual([a]);
      // what a later process finds there is used as it is (faked here to see it)
      body.entries[a]![2] = 77;
      writeFileSync(path, JSON.stringify(body));
      expect((await scanImageFolder(root)).items[0]?.width).toBe(77);
      // cache: false neither reads nor writes one
      const other = join(dir, 'no-cache');
      await writeImage(join(other, 'a', 'y.jpg'), 5, 5, () => [1, 2, 3]);
      expect((await scanImageFolder(other, { cache: false })).items[0]?.width).toBe(5);
      expect(existsSync(scanCachePath(other))).toBe(false);
      await expect(scanImageFolder(other, { cache: '' })).rejects.toThrow(
        /cache must be a file path or false, got ""/,
      );
    } finally {
      if (saved === undefined) delete process.env.EDIY_CACHE_DIR;
      else process.env.EDIY_CACHE_DIR = saved;
    }
  });

  it('reads each header once per process: a second scan of an unchanged file does not read it', async () => {
    const root = join(dir, 'memo');
    const x = await writeImage(join(root, 'x.jpg'), 8, 6, () => [1, 2, 3]);
    await writeImage(join(root, 'y.jpg'), 4, 4, () => [1, 2, 3]); // a folder of none readable is an error
    const when = 1_700_000_000; // a whole second, so that setting it again gives the same time
    utimesSync(x, when, when);
    expect((await scanImageFolder(root, { labeled: 'none' })).items[0]?.width).toBe(8);
    // garbage of the same size with the same modification time: only a re-read would see it
    writeFileSync(x, Buffer.alloc(statSync(x).size, 7));
    utimesSync(x, when, when);
    expect((await scanImageFolder(root, { labeled: 'none' })).items[0]?.width).toBe(8);
    // a header-level read cannot answer a decode check, and a changed time is read again
    const decoded = await scanImageFolder(root, { labeled: 'none', verify: 'decode' });
    expect(decoded.unreadable.map((u) => u.path)).toEqual([x]);
    utimesSync(x, when, when + 5);
    const changed = await scanImageFolder(root, { labeled: 'none' });
    expect(changed.unreadable.map((u) => u.path)).toEqual([x]);
  });

  it('maps a second folder onto given class names, and names bad folders and options', async () => {
    const root = join(dir, 'val');
    await writeImage(join(root, 'b', 'x.jpg'), 8, 8, () => [1, 2, 3]);
    const scan = await scanImageFolder(root, { classNames: ['a', 'b', 'c'] });
    expect(scan.items.map((i) => i.label)).toEqual([1]);
    expect(scan.classNames).toEqual(['a', 'b', 'c']);
    await expect(scanImageFolder(root, { classNames: ['a'] })).rejects.toThrow(
      `${root}: subfolder(s) b are not among the expected classes (a)`,
    );
    await expect(scanImageFolder(join(dir, 'absent'))).rejects.toThrow(
      `${join(dir, 'absent')}: folder not found (expected a folder of PNG/JPEG images)`,
    );
    await expect(scanImageFolder(join(root, 'b'))).rejects.toThrow(/no subfolders; labeled/);
    writeFileSync(join(dir, 'bad.jpg'), 'x');
    await expect(scanImageFolder(dir, { labeled: 'none', verify: 'all' as never })).rejects.toThrow(
      "scanImageFolder: verify must be 'header' or 'decode', got all",
    );
    const onlyBad = join(dir, 'onlybad');
    await writeImage(join(onlyBad, 'a', 'x.jpg'), 4, 4, () => [0, 0, 0]);
    writeFileSync(join(onlyBad, 'a', 'x.jpg'), 'broken');
    writeFileSync(join(onlyBad, 'a', 'y.jpg'), 'broken too');
    await expect(scanImageFolder(onlyBad)).rejects.toThrow(
      `${onlyBad}: all 2 images are unreadable`,
    );
  });
});
