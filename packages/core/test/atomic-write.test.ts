import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '@ediy/core/node';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ediy-core-write-'));
});
afterEach(() => {
  chmodSync(dir, 0o755);
  rmSync(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes strings and bytes, creating parent folders, and replaces an existing file', () => {
    const path = join(dir, 'a', 'b', 'out.json');
    writeFileAtomic(path, '{"x":1}');
    expect(readFileSync(path, 'utf8')).toBe('{"x":1}');
    writeFileAtomic(path, Uint8Array.of(104, 105));
    expect(readFileSync(path, 'utf8')).toBe('hi');
    // no temporary file is left beside the target
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['out.json']);
  });

  it('leaves the previous file whole and no temporary file when the write fails', () => {
    const path = join(dir, 'keep.txt');
    writeFileSync(path, 'old');
    // the rename cannot replace a folder: the write fails after the temporary file is written
    const folder = join(dir, 'folder');
    writeFileAtomic(join(folder, 'inner'), 'x');
    expect(() => writeFileAtomic(folder, 'new')).toThrow(`cannot write ${folder} (`);
    expect(readdirSync(dir).sort()).toEqual(['folder', 'keep.txt']);
    expect(readFileSync(path, 'utf8')).toBe('old');
  });

  it('names the path and the reason when its folder is a file', () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'not a folder');
    const path = join(file, 'x.txt');
    // the temporary file is never made: its removal must not hide why the write failed
    expect(() => writeFileAtomic(path, 'x')).toThrow(`cannot write ${path} (E`);
    expect(readFileSync(file, 'utf8')).toBe('not a folder');
  });

  it.skipIf(process.getuid?.() === 0)('names the path and the reason in a read-only folder', () => {
    chmodSync(dir, 0o555);
    const path = join(dir, 'x.txt');
    expect(() => writeFileAtomic(path, 'x')).toThrow(`cannot write ${path} (EACCES`);
  });

  it('rejects a bad path or content, naming it', () => {
    expect(() => writeFileAtomic('', 'x')).toThrow('path must be a non-empty string, got ""');
    expect(() => writeFileAtomic(join(dir, 'y'), 3 as never)).toThrow(
      /data for .*y must be a string or a Uint8Array, got \[object Number\]/,
    );
  });
});
