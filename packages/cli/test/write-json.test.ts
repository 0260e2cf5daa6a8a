import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeJson } from '../src/reproduce.js';
import { tempDir } from './helpers.js';

describe('writeJson', () => {
  it('writes indented JSON with a final newline, a non-finite number as null', () => {
    const dir = tempDir('ediy-write-json-');
    const path = join(dir, 'eval.json');
    writeJson(path, { knn: NaN, linear: 0.5, big: Infinity, nested: [1, -Infinity] });
    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(text)).toEqual({ knn: null, linear: 0.5, big: null, nested: [1, null] });
    expect(text).toContain('\n  "linear": 0.5');
  });

  it('replaces a file whole, creates missing folders and leaves no temporary file', () => {
    const dir = tempDir('ediy-write-json-');
    const path = join(dir, 'runs', 'a', 'done.json');
    writeJson(path, { step: 1 });
    writeJson(path, { step: 2 });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ step: 2 });
    expect(readdirSync(join(dir, 'runs', 'a'))).toEqual(['done.json']);
  });

  it('names the path when it cannot write, and leaves the old file as it was', () => {
    const dir = tempDir('ediy-write-json-');
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'not a folder');
    expect(() => writeJson(join(blocker, 'x.json'), {})).toThrow(/cannot write .*file[\\/]x\.json/);
    mkdirSync(join(dir, 'target.json'));
    expect(() => writeJson(join(dir, 'target.json'), { a: 1 })).toThrow(/target\.json/);
    expect(readdirSync(dir).sort()).toEqual(['file', 'target.json']);
  });
});
