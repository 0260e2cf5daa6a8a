import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { main, readStepLog } from '@ediy/cli';
import { captureIO, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

/** The native engine when built here (as in CI), else plain wasm. */
const BACKEND = await pipelineTestBackend();

const fixture = fileURLToPath(new URL('./fixtures/two-thread-loss.ts', import.meta.url));

describe('ediy pretrain <config module> --workers 2', () => {
  beforeAll(async () => {
    await initBackend({ prefer: BACKEND });
  });

  it("imports the config module in the worker thread too, so the module's own loss trains on two threads", async () => {
    const out = tempDir('ediy-workers-module-');
    const io = captureIO();
    const code = await main(
      [
        'pretrain',
        fixture,
        '--preset',
        'smoke',
        '--max-steps',
        '1',
        '--workers',
        '2',
        '--backend',
        BACKEND,
        '--out',
        out,
        '--no-tensorboard',
      ],
      io,
    );
    expect(code, io.err()).toBe(0);
    const log = readStepLog(join(out, 'two-thread-user-loss', 'seed-0', 'log.jsonl'));
    expect(log.map((r) => r.step)).toEqual([1]);
    const value = log[0]?.terms['two-thread-squared-local'];
    expect(value).toBeGreaterThan(0);
    expect(Number.isFinite(value)).toBe(true);
    // The two threads' halves were averaged: the step waited for the worker.
    expect(log[0]?.phases?.sync).toBeGreaterThan(0);
  });
});
