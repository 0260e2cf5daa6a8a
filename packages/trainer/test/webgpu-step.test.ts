/**
 * An E-DIY step (two views, the teacher's pairs for R-DEM and R-IEM, the gradients, LARS,
 * the EMA, every finiteness check) on tfjs-backend-webgpu, on the software adapter in CI:
 * the same terms and weights as the cpu backend, no synchronous read, and no tensor or
 * GPU buffer left behind from step to step.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@ediy/backend';
import { LARS } from '@ediy/optim';
import {
  buildOnline,
  buildTarget,
  disposeModels,
  trainStep,
  type ExperimentConfig,
  type TrainStepResult,
} from '@ediy/trainer';
import { namedModels } from '@ediy/trainer/internal';
import { expectClose } from '../../../tools/test-utils/tensors.js';
import { findTestAdapter } from '../../backend/test/webgpu-helpers.js';
import { EDIY_RANDOM_ROW, fixedViews, smoke } from './helpers.js';

const { skip } = await findTestAdapter();

const base = smoke(EDIY_RANDOM_ROW, 1);
/** The smoke preset's networks with the teacher's pairs (both teacher matchers run). */
const config: ExperimentConfig = {
  ...base,
  method: {
    ...base.method,
    regionLosses: base.method.regionLosses.map((t) => ({ ...t, matcher: 'teacher' })),
  },
  scale: { ...base.scale, batchSize: 4 },
};
const B = config.scale.batchSize;
const S = config.scale.imageSize;

/** Deterministic values of a shape from a named stream, on the current backend. */
function drawn(rng: Rng, shape: readonly number[], scale: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.uniform(-1, 1) * scale;
  return tf.tensor(v, [...shape]);
}

interface Nets {
  models: Record<string, LayersModel>;
  online: ReturnType<typeof buildOnline>;
  target: ReturnType<typeof buildTarget>;
  teacher: LayersModel;
}

/** The networks, every trainable weight drawn from a stream named by its model and name. */
function build(prefix: string): Nets {
  const online = buildOnline(config, prefix);
  const target = buildTarget(config, online);
  // the teacher: a backbone of the same kind, as pretrain builds one from a run
  const { backbone: teacher, ...heads } = buildOnline(config, 'teacher');
  disposeModels(Object.values(heads).filter((m): m is LayersModel => m !== undefined));
  const models = { ...namedModels(online, target), teacher };
  for (const [key, model] of Object.entries(models)) {
    for (const w of model.trainableWeights) {
      const shape = w.shape as number[];
      const fanIn = shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
      const rng = new Rng(7).fork(`${key} ${w.originalName}`);
      const t = /gamma/.test(w.originalName)
        ? tf.tidy(() => tf.add(1, drawn(rng, shape, 0.1)))
        : drawn(rng, shape, 1 / Math.sqrt(fanIn));
      w.write(t);
      t.dispose();
    }
  }
  return { models, online, target, teacher };
}

interface Run {
  results: TrainStepResult[];
  weights: Record<string, Float32Array>;
}

async function run(backend: string, steps: number, after?: (step: number) => void): Promise<Run> {
  await tf.setBackend(backend);
  const nets = build('online');
  const optimizer = new LARS({ learningRate: 0, momentum: 0.9, weightDecay: 1.5e-6, eta: 0.001 });
  const results: TrainStepResult[] = [];
  for (let step = 0; step < steps; step++) {
    const rng = new Rng(11).fork(`images-${step}`);
    const images = tf.tidy(() =>
      tf.clipByValue(tf.add(0.5, drawn(rng, [B, S, S, 3], 0.5)), 0, 1),
    ) as tf.Tensor4D;
    results.push(
      await trainStep(
        { config, nets: nets, optimizer, views: fixedViews(S) },
        {
          step,
          lr: 0.2,
          tau: 0.99,
          rng: new Rng(3).fork(`step-${step}`),
          batch: () => ({ images, dispose: () => images.dispose() }),
        },
      ),
    );
    after?.(step);
  }
  const weights: Record<string, Float32Array> = {};
  for (const [key, model] of Object.entries(namedModels(nets.online, nets.target)))
    for (const w of model.trainableWeights)
      weights[`${key} ${w.originalName}`] = Float32Array.from(await w.read().data());
  optimizer.dispose();
  disposeModels(Object.values(nets.models));
  return { results, weights };
}

describe.skipIf(skip !== undefined)('an E-DIY step on webgpu (software adapter in CI)', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
    await initBackend({ prefer: 'webgpu' });
    // Small uploads are computed on the CPU by default; compare the shaders themselves.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('gives the terms and updated weights of the cpu backend, and leaves tensors and GPU buffers flat', async () => {
    const steps = 2;
    const seen: { tensors: number; usedBuffers: number; bytesInGPU?: number }[] = [];
    const got = await run('webgpu', steps, () => {
      const backend = tf.backend() as unknown as {
        bufferManager: { getNumUsedBuffers(): number };
      };
      const memory = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      seen.push({
        tensors: memory.numTensors,
        usedBuffers: backend.bufferManager.getNumUsedBuffers(),
        ...(memory.numBytesInGPU === undefined ? {} : { bytesInGPU: memory.numBytesInGPU }),
      });
    });
    expect(seen[0]!.tensors).toBeGreaterThan(0);
    expect(seen[1]).toEqual(seen[0]);

    const want = await run('cpu', steps);
    for (let step = 0; step < steps; step++) {
      const [w, g] = [want.results[step]!, got.results[step]!];
      expect(Object.keys(g.terms).sort()).toEqual(['byol', 'r-dem', 'r-iem']);
      for (const name of Object.keys(w.terms)) {
        expect(Number.isFinite(w.terms[name])).toBe(true);
        expect(Math.abs(g.terms[name]! - w.terms[name]!), `step ${step} ${name}`).toBeLessThan(
          1e-4 * Math.max(1, Math.abs(w.terms[name]!)),
        );
      }
      expect(Math.abs(g.loss - w.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(w.loss)));
    }
    const names = Object.keys(want.weights);
    expect(names.length).toBeGreaterThan(50);
    for (const name of names) expectClose(got.weights[name]!, want.weights[name]!, 1e-3, name);
    // the steps changed the weights (else equal weights would say nothing about the update)
    const before = await run('cpu', 0);
    const moved = names.filter((name) => {
      const a = before.weights[name]!;
      const b = want.weights[name]!;
      return a.some((v, i) => v !== b[i]);
    });
    expect(moved.length).toBeGreaterThan(names.length / 2);
    // about a minute of CPU time on the software adapter; longer on a loaded machine
  }, 1_800_000);
});
