import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { regionLossNames } from '@ediy/losses';
import { main, readStepLog } from '@ediy/cli';
import { meanRegionConcentration } from '../../../examples/extending/region-variance.js';
import { captureIO, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

/** The native engine when built here (as in CI), else plain wasm. */
const BACKEND = await pipelineTestBackend();

const example = fileURLToPath(
  new URL('../../../examples/extending/region-variance.ts', import.meta.url),
);

describe('examples/extending/region-variance.ts', () => {
  beforeAll(async () => {
    await initBackend({ prefer: BACKEND });
  });

  it('computes ||mean of the unit region vectors||^2 per image', () => {
    // Image 1: regions (3,0), (0,2) -> units (1,0), (0,1) -> m = (0.5,0.5), ||m||^2 = 0.5.
    // Image 2: regions (1,1), (2,2) -> both (1,1)/sqrt2 -> ||m||^2 = 1. Mean over images 0.75.
    const local = tf.tensor4d([3, 0, 0, 2, 1, 1, 2, 2], [2, 1, 2, 2]);
    const v = meanRegionConcentration(local);
    expect(v.dataSync()[0]).toBeCloseTo(0.75, 6);
    tf.dispose([local, v]);
    expect(regionLossNames()).toContain('region-variance');
  });

  it('trains as a row through `ediy pretrain <file>.ts` with no package change', async () => {
    const out = tempDir('ediy-extending-');
    const io = captureIO();
    const code = await main(
      [
        'pretrain',
        example,
        '--preset',
        'smoke',
        '--max-steps',
        '2',
        '--backend',
        BACKEND,
        '--out',
        out,
      ],
      io,
    );
    expect(code, io.err()).toBe(0);
    const runDir = join(out, 'extending-region-variance', 'seed-0');
    expect(io.out()).toContain(runDir);
    const log = readStepLog(join(runDir, 'log.jsonl'));
    expect(log.map((r) => r.step)).toEqual([1, 2]);
    for (const r of log) {
      const value = r.terms['region-variance'] as number;
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(2);
    }
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as {
      method: { regionLosses: Array<{ loss: string }> };
    };
    expect(config.method.regionLosses[0]?.loss).toBe('region-variance');
  });
});
