/**
 * pretrain trains the method it is given (default E-DIY), on one thread and, importing
 * it from its source module, on two; and a run that fails after its state is opened
 * frees it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { pretrain, type Method, type OnlineNetwork, type TargetNetwork } from '@ediy/trainer';
import { BYOL_ONLY, calls } from './fixtures/byol-only-method.js';
import { BYOL_ROW, EDIY_RANDOM_ROW, smoke, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

/** The native engine when built here (as in CI), else plain wasm. */
const BACKEND = await pipelineTestBackend();

beforeAll(async () => {
  await initBackend({ prefer: BACKEND });
});

describe('PretrainOptions.method', () => {
  it("trains the given method: its terms, weights and networks, not E-DIY's", async () => {
    // The row names R-DEM and R-IEM: E-DIY would compute them, BYOL-only does not.
    const config = smoke(EDIY_RANDOM_ROW, 2);
    const before = calls.terms;
    const mine = await pretrain(config, {
      runDir: tempDir('method'),
      progress: null,
      method: BYOL_ONLY,
    });
    expect(calls.terms - before).toBe(2 * config.scale.accumulate);
    expect(mine.records.map((r) => Object.keys(r.terms))).toEqual([['byol-only'], ['byol-only']]);
    // BYOL-only on the E-DIY row is E-DIY's BYOL row: the same networks, streams and losses.
    const byol = await pretrain(
      { ...config, method: { ...config.method, regionLosses: [] } },
      { runDir: tempDir('method-byol'), progress: null },
    );
    mine.records.forEach((r, i) => {
      expect(r.terms['byol-only']).toBeCloseTo(byol.records[i]!.terms.byol!, 5);
      expect(r.loss).toBeCloseTo(byol.records[i]!.loss, 5);
    });
  });

  it('runs the method in the worker thread too, imported from its source', async () => {
    const base = smoke(BYOL_ROW, 2);
    const two = await pretrain(base, {
      runDir: tempDir('method-w2'),
      progress: null,
      workers: 2,
      method: BYOL_ONLY,
    });
    const half = {
      ...base,
      scale: { ...base.scale, batchSize: base.scale.batchSize / 2, accumulate: 2 },
    };
    const one = await pretrain(half, {
      runDir: tempDir('method-w1'),
      progress: null,
      method: BYOL_ONLY,
    });
    expect(two.records.map((r) => Object.keys(r.terms))).toEqual([['byol-only'], ['byol-only']]);
    two.records.forEach((r, i) => {
      expect(r.phases.sync).toBeGreaterThan(0);
      expect(r.terms['byol-only']).toBeCloseTo(one.records[i]!.terms['byol-only']!, 5);
    });
  });

  it('refuses two threads for a method without a source, and a source that is not a method', async () => {
    const { source: _source, ...rest } = BYOL_ONLY;
    const local: Method<OnlineNetwork, TargetNetwork> = { ...rest, name: 'local-only' };
    const config = smoke(BYOL_ROW, 1);
    await expect(
      pretrain(config, { runDir: tempDir('nosource'), progress: null, workers: 2, method: local }),
    ).rejects.toThrow(
      'workers: 2 needs the method in the worker thread too: method local-only has no source',
    );
    const wrong: Method<OnlineNetwork, TargetNetwork> = {
      ...BYOL_ONLY,
      source: { module: BYOL_ONLY.source!.module, export: 'NOT_A_METHOD' },
    };
    await expect(
      pretrain(config, { runDir: tempDir('badsource'), progress: null, workers: 2, method: wrong }),
    ).rejects.toThrow(/byol-only-method\.ts must export a method .* as 'NOT_A_METHOD', got object/);
  });
});

describe('a run failing after its state is opened', () => {
  it('frees the networks, the optimiser and the teacher, and closes its loggers', async () => {
    const config = smoke(EDIY_RANDOM_ROW, 2);
    const runDir = tempDir('fails-after-open');
    // log.jsonl a folder: cutting the log back (after the state is opened) fails.
    mkdirSync(join(runDir, 'log.jsonl'), { recursive: true });
    let closed = 0;
    const logger = { name: 'counting', scalars: () => undefined, close: () => void (closed += 1) };
    const before = tf.memory().numTensors;
    await expect(pretrain(config, { runDir, progress: null, loggers: [logger] })).rejects.toThrow(
      /log\.jsonl/,
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(closed).toBe(1);
  });
});
