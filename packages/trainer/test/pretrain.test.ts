import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { registerRegionLoss, type RegionLoss } from '@ediy/losses';
import {
  NonFiniteLossError,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  pretrain,
  type StepRecord,
} from '@ediy/trainer';
import { BYOL_ROW, EDIY_RANDOM_ROW, smoke, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

/** The native engine when built here (as in CI), else plain wasm. */
const BACKEND = await pipelineTestBackend();

beforeAll(async () => {
  await initBackend({ prefer: BACKEND });
});

const losses = (records: StepRecord[]) => records.map((r) => [r.loss, r.terms]);

declare module '@ediy/losses' {
  interface RegionLossRegistry {
    /** A test loss that turns NaN at its second call. */
    'nan-at-step-2': RegionLoss;
  }
}

describe('pretrain', () => {
  it('trains E-DIY on wasm, logs every step and keeps the last K checkpoints', async () => {
    const runDir = tempDir('run');
    const config = smoke(EDIY_RANDOM_ROW, 3);
    const result = await pretrain(config, { runDir, progress: null });
    expect(result).toMatchObject({ steps: 3, totalSteps: 3, finished: true });
    const log = readFileSync(join(runDir, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as StepRecord);
    expect(log.map((r) => r.step)).toEqual([1, 2, 3]);
    for (const r of log) {
      expect(Object.keys(r.terms)).toEqual(['byol', 'r-dem', 'r-iem']);
      // Eq. 3 with unit weights: the total is the sum of the terms
      expect(r.loss).toBeCloseTo(r.terms.byol! + r.terms['r-dem']! + r.terms['r-iem']!, 4);
      expect(r.terms.byol).toBeGreaterThanOrEqual(0);
      expect(r.terms.byol).toBeLessThanOrEqual(4);
      expect(r.imagesPerSec).toBeGreaterThan(0);
    }
    // no warm-up step at this scale: cosine from 0.2 x batch/256 downwards
    expect(log[0]!.lr).toBeCloseTo((0.2 * config.scale.batchSize) / 256, 10);
    expect(log[1]!.lr).toBeLessThan(log[0]!.lr);
    expect(listCheckpoints(join(runDir, 'checkpoints'))).toEqual([2, 3]);
    expect(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'))).toEqual(config);
  });

  it('resumes exactly: stopped and resumed gives the losses of an uninterrupted run', async () => {
    const config = smoke(EDIY_RANDOM_ROW, 4);
    const whole = await pretrain(config, { runDir: tempDir('whole'), progress: null });
    const split = tempDir('split');
    const first = await pretrain(config, { runDir: split, progress: null, stopAfter: 2 });
    expect(first).toMatchObject({ steps: 2, finished: false });
    const second = await pretrain(config, { runDir: split, progress: null });
    expect(second.records.map((r) => r.step)).toEqual([3, 4]);
    expect(losses([...first.records, ...second.records])).toEqual(losses(whole.records));
  });

  it('does not leak tensors from step to step', async () => {
    const counts: number[] = [];
    await pretrain(smoke(EDIY_RANDOM_ROW, 6), {
      runDir: tempDir('leak'),
      progress: null,
      onStep: () => counts.push(tf.memory().numTensors),
    });
    expect(counts).toHaveLength(6);
    expect(new Set(counts).size).toBe(1);
  });

  it('stops on a NaN loss naming the step and the term, and keeps the last good checkpoint', async () => {
    let calls = 0;
    registerRegionLoss('nan-at-step-2', (inputs) => {
      calls += 1;
      return tf.mul(tf.mean(inputs.local[0]), calls >= 2 ? Number.NaN : 0) as tf.Scalar;
    });
    const runDir = tempDir('nan');
    const config = smoke(
      {
        name: 'nan',
        method: {
          byolWeight: 1,
          regionLosses: [{ loss: 'nan-at-step-2', weight: 1, matcher: 'random' }],
          localPredictor: true,
        },
      },
      4,
    );
    const error = await pretrain(config, { runDir, progress: null }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteLossError);
    expect((error as Error).message).toBe(
      "loss term 'nan-at-step-2' is NaN at step 2; stopping (the last good checkpoint is kept)",
    );
    const last = latestCheckpoint(join(runDir, 'checkpoints'));
    expect(last).toMatch(/step-00000001$/);
    const ckpt = loadCheckpoint(last as string);
    expect(ckpt.state.step).toBe(1);
    tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);
  });

  it('uses a teacher from a BYOL run directory', async () => {
    const teacherDir = tempDir('teacher');
    await pretrain(smoke(BYOL_ROW, 1), { runDir: teacherDir, progress: null });
    const row = {
      ...EDIY_RANDOM_ROW,
      name: 'tg',
      method: {
        ...EDIY_RANDOM_ROW.method,
        regionLosses: EDIY_RANDOM_ROW.method.regionLosses.map((t) => ({
          ...t,
          matcher: 'teacher' as const,
        })),
      },
    };
    const result = await pretrain(smoke(row, 2, { teacher: { run: teacherDir } }), {
      runDir: tempDir('student'),
      progress: null,
    });
    expect(result.steps).toBe(2);
    expect(Number.isFinite(result.records[1]!.terms['r-dem'])).toBe(true);
  });

  it('refuses a teacher-guided row without a teacher, and a missing teacher run', async () => {
    const row = {
      ...EDIY_RANDOM_ROW,
      name: 'tg',
      method: {
        ...EDIY_RANDOM_ROW.method,
        regionLosses: [{ loss: 'r-dem' as const, weight: 1, matcher: 'teacher' as const }],
      },
    };
    await expect(
      pretrain(smoke(row, 1), { runDir: tempDir('noteacher'), progress: null }),
    ).rejects.toThrow(/uses the 'teacher' matcher but names no teacher/);
    const missing = join(tempDir('empty'), 'nope');
    await expect(
      pretrain(smoke(row, 1, { teacher: { run: missing } }), {
        runDir: tempDir('badteacher'),
        progress: null,
      }),
    ).rejects.toThrow(`teacher run ${missing} has no checkpoint`);
  });

  it('ignores a half-written checkpoint a crash left and reports a corrupt one by file', async () => {
    const runDir = tempDir('crash');
    const config = smoke(BYOL_ROW, 2);
    await pretrain(config, { runDir, progress: null, stopAfter: 1 });
    const ckpts = join(runDir, 'checkpoints');
    // A crash while writing step 2 leaves a temporary folder without state.json.
    mkdirSync(join(ckpts, '.tmp-step-00000002-999'));
    writeFileSync(join(ckpts, '.tmp-step-00000002-999', 'tensors.safetensors'), 'partial');
    expect(latestCheckpoint(ckpts)).toMatch(/step-00000001$/);
    const resumed = await pretrain(config, { runDir, progress: null });
    expect(resumed.records.map((r) => r.step)).toEqual([2]);
    expect(readdirSync(ckpts).filter((n) => n.startsWith('.tmp'))).toEqual([]);
    const statePath = join(ckpts, 'step-00000002', 'state.json');
    writeFileSync(statePath, '{ not json');
    expect(() => loadCheckpoint(join(ckpts, 'step-00000002'))).toThrow(
      `${statePath}: the checkpoint state is not valid JSON`,
    );
    expect(existsSync(join(ckpts, 'step-00000001'))).toBe(true);
  });

  it('refuses to resume a run directory of another config', async () => {
    const runDir = tempDir('other');
    await pretrain(smoke(BYOL_ROW, 1), { runDir, progress: null });
    await expect(pretrain(smoke(EDIY_RANDOM_ROW, 1), { runDir, progress: null })).rejects.toThrow(
      /holds a run of another config/,
    );
  });
});

describe('pretrain on a checkpoint that cannot be restored', () => {
  it('reports it and leaves no tensors behind', async () => {
    const runDir = tempDir('badresume');
    const config = smoke(BYOL_ROW, 2);
    await pretrain(config, { runDir, progress: null, stopAfter: 1 });
    const statePath = join(runDir, 'checkpoints', 'step-00000001', 'state.json');
    const state = JSON.parse(readFileSync(statePath, 'utf8'));
    state.weights['online.backbone'] = state.weights['online.backbone'].slice(1);
    writeFileSync(statePath, JSON.stringify(state));
    const before = tf.memory().numTensors;
    await expect(pretrain(config, { runDir, progress: null })).rejects.toThrow(
      /checkpoint has \d+ weights for online.backbone, the model has \d+/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
