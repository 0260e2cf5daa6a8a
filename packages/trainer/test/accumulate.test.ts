import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { latestCheckpoint, loadCheckpoint, pretrain } from '@ediy/trainer';
import { EDIY_RANDOM_ROW, smoke, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

/** The native engine when built here (as in CI), else plain wasm. */
const BACKEND = await pipelineTestBackend();

beforeAll(async () => {
  await initBackend({ prefer: BACKEND });
});

describe('gradient accumulation', () => {
  it('reads `accumulate` micro-batches per optimiser step and scales the LR by the effective batch', async () => {
    const base = smoke(EDIY_RANDOM_ROW, 2);
    const config = { ...base, scale: { ...base.scale, batchSize: 4, accumulate: 2 } };
    const runDir = tempDir('accumulate');
    const result = await pretrain(config, { runDir, progress: null });
    expect(result.steps).toBe(2);
    // 32 scenes / (4 x 2) = 4 optimiser steps an epoch; two steps read four micro-batches
    const ckpt = loadCheckpoint(latestCheckpoint(join(runDir, 'checkpoints')) as string);
    expect(ckpt.state.dataPosition).toEqual({ epoch: 0, index: 4 });
    tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);
    // base LR x effective batch / 256 at the first step (no warm-up step at this scale)
    expect(result.records[0]!.lr).toBeCloseTo((0.2 * 8) / 256, 10);
    for (const r of result.records) expect(Number.isFinite(r.loss)).toBe(true);
  });
});
