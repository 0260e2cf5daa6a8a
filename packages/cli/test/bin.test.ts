import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin/ediy.js', import.meta.url));

it('runs from the TypeScript sources when asked (as in a checkout not built yet)', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [bin, 'report', '--help'], {
    env: { ...process.env, EDIY_FROM_SOURCE: '1' },
  });
  expect(stdout).toContain('Usage: ediy report <run...> [flags]');
}, 60_000);
