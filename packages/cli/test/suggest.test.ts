import { describe, expect, it } from 'vitest';
import { closestMatch, main } from '@ediy/cli';
import { captureIO } from './helpers.js';

describe('closestMatch', () => {
  it('finds a near miss and ignores words too far from every choice', () => {
    const commands = ['pretrain', 'eval', 'reproduce', 'report', 'saliency'];
    expect(closestMatch('reprodcue', commands)).toBe('reproduce');
    expect(closestMatch('evl', commands)).toBe('eval');
    expect(closestMatch('Report', commands)).toBe('report');
    expect(closestMatch('train', commands)).toBeUndefined();
    expect(closestMatch('reproduce', commands)).toBeUndefined(); // not a slip
    expect(closestMatch('--presset', ['--preset', '--seeds'])).toBe('--preset');
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
