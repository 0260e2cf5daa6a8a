import { describe, expect, it } from 'vitest';
import { closestMatch, main } from '@ediy/cli';
import { captureIO, tempDir } from './helpers.js';

describe('closestMatch', () => {
  it('finds a near miss and ignores words too far from every choice', () => {
    const commands = ['pretrain', 'eval', 'reproduce', 'report', 'saliency'];
    expect(closestMatch('reprodcue', commands)).toBe('reproduce');
    expect(closestMatch('evl', commands)).toBe('eval');
    expect(closestMatch('Report', commands)).toBe('report');
    expect(closestMatch('train', commands)).toBeUndefined();
    expect(closestMatch('reproduce', commands)).toBeUndefined(); // not a slip
    expect(closestMatch('--presset', ['--preset', '--seeds'])).toBe('--preset');
    expect(closestMatch('3', ['1', '2', 'auto'])).toBeUndefined();
  });
});

describe('ediy did-you-mean', () => {
  it('suggests the command a misspelt one was meant to be', async () => {
    const io = captureIO();
    expect(await main(['reprodcue', 'table1'], io)).toBe(2);
    expect(io.err()).toContain('unknown command "reprodcue"; did you mean "reproduce"?');
    const far = captureIO();
    expect(await main(['frobnicate'], far)).toBe(2);
    expect(far.err()).not.toContain('did you mean');
  });

  it('suggests the flag a misspelt one was meant to be', async () => {
    const io = captureIO();
    expect(await main(['reproduce', 'table1', '--presset', 'smoke'], io)).toBe(2);
    expect(io.err()).toContain(`Unknown option '--presset'; did you mean "--preset"?`);
  });
});

describe('ediy did-you-mean for values', () => {
  it('suggests the table, preset and row a misspelt one was meant to be', async () => {
    const table = captureIO();
    expect(await main(['reproduce', 'tabel1', '--plan'], table)).toBe(2);
    expect(table.err()).toContain('unknown table "tabel1"; did you mean "table1"?');
    const preset = captureIO();
    expect(await main(['reproduce', 'table1', '--preset', 'mimi', '--plan'], preset)).toBe(2);
    expect(preset.err()).toContain('got "mimi"; did you mean "mini"?');
    const row = captureIO();
    const out = tempDir();
    expect(
      await main(['reproduce', 'table1', '--rows', 'edyi', '--plan', '--out', out], row),
    ).not.toBe(0);
    expect(row.err()).toContain('table1 has no row "edyi"; did you mean "ediy"?');
  });
});
