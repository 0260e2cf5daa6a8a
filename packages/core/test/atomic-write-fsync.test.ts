/**
 * writeFileAtomic's durability, seen through the file-system calls it makes: the
 * temporary file's bytes are flushed (fsync) before the rename publishes them, and the
 * folder's entry is flushed after it, so a crash leaves the old file or the whole new one;
 * syncFolder, that folder flush, exported for writers that rename folders.
 */
import type * as nodeFs from 'node:fs';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

const calls: string[] = [];

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof nodeFs>();
  const paths = new Map<number, string>();
  return {
    ...fs,
    openSync: (path: string, ...rest: [string]) => {
      const fd = fs.openSync(path, ...rest);
      paths.set(fd, String(path));
      return fd;
    },
    fsyncSync: (fd: number) => {
      calls.push(`fsync ${paths.get(fd)}`);
      fs.fsyncSync(fd);
    },
    renameSync: (from: string, to: string) => {
      calls.push(`rename ${from} ${to}`);
      fs.renameSync(from, to);
    },
  };
});

const { syncFolder, writeFileAtomic } = await import('@ediy/core/node');

describe('writeFileAtomic', () => {
  it('flushes the file before the rename and its folder after it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ediy-core-fsync-'));
    const path = join(dir, 'a.json');
    writeFileAtomic(path, '{"a":1}');
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}');
    expect(calls).toHaveLength(3);
    const [syncFile, rename, syncDir] = calls;
    const tmp = /^fsync (.+)$/.exec(syncFile!)?.[1];
    expect(tmp && tmp.startsWith(join(dir, '.a.json.tmp-'))).toBe(true);
    expect(rename).toBe(`rename ${tmp} ${path}`);
    expect(syncDir).toBe(`fsync ${dir}`);
  });
});

describe('syncFolder', () => {
  it('flushes the folder itself, and is a no-op (no throw) for a folder that cannot be opened', () => {
    calls.length = 0;
    const dir = mkdtempSync(join(tmpdir(), 'ediy-core-syncdir-'));
    syncFolder(dir);
    expect(calls).toEqual([`fsync ${dir}`]);
    calls.length = 0;
    expect(() => syncFolder(join(dir, 'missing'))).not.toThrow();
    expect(calls).toEqual([]);
  });
});
