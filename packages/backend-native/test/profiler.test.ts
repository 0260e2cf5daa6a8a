/**
 * The addon under V8's sampling profiler: `node --cpu-prof` sends SIGPROF to the main
 * thread every interval, and a handler that ran inside one of oneDNN 2.6's JIT gemm
 * kernels corrupted the C heap (the process aborted with "malloc(): unaligned tcache
 * chunk detected"). The addon blocks asynchronous signals for the length of each call; a
 * child process runs the matrix product that aborted 3 times in 3 before that, under the
 * profiler at a 25 µs interval.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ADDON_PATH } from '@ediy/backend-native';
import { availability } from './helpers.js';

const describeNative = describe.skipIf(!availability.available);
const FIXTURE = fileURLToPath(new URL('./fixtures/profiled-matmul.mjs', import.meta.url));

describeNative('the addon under node --cpu-prof', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ediy-cpu-prof-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs 400 matrix products while the profiler samples every 25 µs, and writes the profile', () => {
    const calls = 400;
    const run = spawnSync(
      process.execPath,
      [
        '--cpu-prof',
        '--cpu-prof-interval',
        '25',
        '--cpu-prof-dir',
        dir,
        FIXTURE,
        ADDON_PATH,
        String(calls),
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(run.signal, run.stderr).toBeNull();
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(`ok ${calls}`);
    expect(readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))).toHaveLength(1);
  }, 150_000);
});
