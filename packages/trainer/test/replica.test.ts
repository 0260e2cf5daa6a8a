import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@ediy/backend';
import { byolViewParams } from '@ediy/augment';
import { registerRegionLoss, type RegionLoss } from '@ediy/losses';
import { resnet } from '@ediy/backbones';
import {
  buildOnline,
  buildTarget,
  microStep,
  pretrain,
  resolveWorkers,
  type MicroStepResult,
} from '@ediy/trainer';
import { ReplicaPool, dataParallelStep, type ReplicaResult } from '@ediy/trainer/internal';
import { EDIY_RANDOM_ROW, smoke, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

/** The native engine when built here (as in CI), else plain wasm. */
const BACKEND = await pipelineTestBackend();

beforeAll(async () => {
  await initBackend({ prefer: BACKEND });
});

declare module '@ediy/losses' {
  interface RegionLossRegistry {
    /** A test loss registered in the training thread only. */
    'main-thread-only': RegionLoss;
  }
}

describe('resolveWorkers', () => {
  const config = smoke(EDIY_RANDOM_ROW, 1);
  const withBatch = (batchSize: number) => ({ ...config, scale: { ...config.scale, batchSize } });

  it('splits over two threads under auto only with two cores and a micro-batch of 32 or more', () => {
    expect(resolveWorkers('auto', withBatch(64), 2)).toBe(2);
    expect(resolveWorkers('auto', withBatch(32), 2)).toBe(2);
    expect(resolveWorkers('auto', withBatch(16), 2)).toBe(1);
    expect(resolveWorkers('auto', withBatch(33), 2)).toBe(1);
    expect(resolveWorkers('auto', withBatch(64), 1)).toBe(1);
    expect(resolveWorkers(1, withBatch(64), 2)).toBe(1);
    expect(resolveWorkers(2, withBatch(8), 1)).toBe(2);
  });

  it('keeps one thread on a GPU backend: auto is 1, an explicit 2 is refused naming it', () => {
    for (const backend of ['native', 'wasm', 'cpu']) {
      expect(resolveWorkers('auto', withBatch(64), 2, backend)).toBe(2);
    }
    for (const backend of ['webgpu', 'webgl', 'tensorflow']) {
      expect(resolveWorkers('auto', withBatch(64), 2, backend)).toBe(1);
      expect(() => resolveWorkers(2, withBatch(64), 2, backend)).toThrow(
        `this run trains on "${backend}": use workers: 1`,
      );
    }
    expect(resolveWorkers(1, withBatch(64), 2, 'webgpu')).toBe(1);
  });

  it('refuses an odd batch for two threads and an unknown value', () => {
    expect(() => resolveWorkers(2, withBatch(7))).toThrow(
      'config.scale.batchSize must be even, got 7',
    );
    expect(() => resolveWorkers(3 as never, config)).toThrow(
      "workers must be 1, 2 or 'auto', got 3",
    );
  });
});

describe('two threads', () => {
  it('give the losses of one thread with half the batch and twice the accumulation', async () => {
    const base = smoke(EDIY_RANDOM_ROW, 3);
    const two = await pretrain(base, { runDir: tempDir('w2'), progress: null, workers: 2 });
    const half = {
      ...base,
      scale: { ...base.scale, batchSize: base.scale.batchSize / 2, accumulate: 2 },
    };
    const one = await pretrain(half, { runDir: tempDir('w1'), progress: null, workers: 1 });
    expect(two.records).toHaveLength(3);
    two.records.forEach((r, i) => {
      const ref = one.records[i]!;
      expect(r.loss).toBeCloseTo(ref.loss, 5);
      for (const [name, value] of Object.entries(ref.terms))
        expect(r.terms[name]).toBeCloseTo(value, 5);
      expect(r.phases.sync).toBeGreaterThan(0);
    });
    // the runs moved: a step's loss differs from the first
    expect(Math.abs(two.records[2]!.loss - two.records[0]!.loss)).toBeGreaterThan(1e-6);
  });

  it('resume exactly', async () => {
    const config = smoke(EDIY_RANDOM_ROW, 3);
    const whole = await pretrain(config, {
      runDir: tempDir('w2-whole'),
      progress: null,
      workers: 2,
    });
    const split = tempDir('w2-split');
    const first = await pretrain(config, {
      runDir: split,
      progress: null,
      workers: 2,
      stopAfter: 1,
    });
    const second = await pretrain(config, { runDir: split, progress: null, workers: 2 });
    expect([...first.records, ...second.records].map((r) => [r.loss, r.terms])).toEqual(
      whole.records.map((r) => [r.loss, r.terms]),
    );
  });

  it('refuse a region loss registered in this thread only, naming it', async () => {
    registerRegionLoss('main-thread-only', (inputs) => tf.mean(inputs.local[0]) as tf.Scalar);
    const config = smoke(
      {
        name: 'local-loss',
        method: {
          byolWeight: 1,
          regionLosses: [{ loss: 'main-thread-only', weight: 1, matcher: 'random' }],
          localPredictor: true,
        },
      },
      1,
    );
    await expect(
      pretrain(config, { runDir: tempDir('unknown'), progress: null, workers: 2 }),
    ).rejects.toThrow(
      "workers: 2 needs every region loss and matcher registered in the worker thread too, and it does not know region loss 'main-thread-only'",
    );
  });

  it('compute in the worker what this thread computes for the same half, teacher included, and leak no tensor in either thread', async () => {
    const base = smoke(EDIY_RANDOM_ROW, 1);
    const config = {
      ...base,
      method: {
        ...base.method,
        regionLosses: base.method.regionLosses.map((t) => ({ ...t, matcher: 'teacher' as const })),
      },
    };
    const online = buildOnline(config);
    const target = buildTarget(config, online);
    const teacher = resnet(
      { ...config.scale.backbone, name: 'replica_test_teacher', seed: 5 },
      { batchNormLayer: 'fast' },
    );
    const views = byolViewParams(config.scale.imageSize, { scaleBlurSigma: true });
    const pool = await ReplicaPool.start({ config, views, teacher });
    const size = config.scale.imageSize;
    const images = tf.randomUniform([8, size, size, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const counts: Array<[number, number]> = [];
    try {
      for (let i = 0; i < 3; i++) {
        const rngFor = (k: number) => new Rng(i).fork(`r${k}`);
        const results = await dataParallelStep(
          config,
          { online, target, teacher },
          images,
          rngFor,
          views,
          pool,
          i,
        );
        expect(results).toHaveLength(2);
        const [mine, theirs] = results as [MicroStepResult, ReplicaResult];
        if (i === 0) {
          // the second half computed here gives the worker's numbers
          const half = tf.slice(images, [4, 0, 0, 0], [-1, -1, -1, -1]);
          const local = microStep(config, { online, target, teacher }, half, rngFor(1), views);
          expect(theirs.loss).toBeCloseTo(local.loss, 5);
          expect(Object.keys(theirs.grads).sort()).toEqual(Object.keys(local.grads).sort());
          for (const [name, g] of Object.entries(local.grads)) {
            expect(
              tf.max(tf.abs(tf.sub(g, theirs.grads[name] as tf.Tensor))).dataSync()[0],
            ).toBeLessThan(1e-5);
          }
          tf.dispose([half, ...Object.values(local.grads)]);
          expect(Math.abs(mine.loss - theirs.loss)).toBeGreaterThan(1e-6); // the halves differ
        }
        tf.dispose(results.flatMap((r) => Object.values(r.grads)));
        counts.push([tf.memory().numTensors, theirs.numTensors]);
      }
    } finally {
      await pool.terminate();
      images.dispose();
    }
    expect(new Set(counts.slice(1).map((c) => c[0])).size).toBe(1);
    expect(new Set(counts.map((c) => c[1])).size).toBe(1);
  });
});
