/**
 * One whole training step against golden values from an independent PyTorch reference
 * (tools/reference/trainer_step.py, in float64): the networks, Eq. 3's three terms with
 * the teacher's pairs, the gradients, LARS and the EMA. The inputs are not stored: both
 * sides draw them from the same integer hash.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import { LARS } from '@ediy/optim';
import {
  buildOnline,
  buildTarget,
  disposeModels,
  trainStep,
  type ExperimentConfig,
} from '@ediy/trainer';
import { namedModels } from '@ediy/trainer/internal';
import { EDIY_RANDOM_ROW, fixedViews, smoke } from './helpers.js';

interface Golden {
  settings: {
    lr: number;
    tau: number;
    momentum: number;
    weightDecay: number;
    eta: number;
    batch: number;
    size: number;
    widthMultiplier: number;
    hidden: number;
    out: number;
  };
  terms: Record<'byol' | 'r-dem' | 'r-iem', number>;
  weights: Record<string, Record<string, number[]>>;
}

const golden = JSON.parse(
  readFileSync(new URL('./fixtures/step-golden.json', import.meta.url), 'utf8'),
) as Golden;

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
});

function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** The reference script's inputs: value i of tensor `key` in [0, 1), row-major. */
function uniform(key: string, size: number): Float64Array {
  const seed = fnv1a(key);
  return Float64Array.from(
    { length: size },
    (_, i) => (fmix32((Math.imul(i + 1, 0x9e3779b1) >>> 0) ^ seed) >>> 8) / 16777216,
  );
}

/** A weight as the reference draws it (gamma near 1, beta and bias near 0, kernels He-uniform). */
function value(key: string, name: string, shape: number[]): tf.Tensor {
  const u = uniform(`${key} ${name}`, tf.util.sizeFromShape(shape));
  let v: number[];
  if (name.endsWith('/gamma')) v = Array.from(u, (x) => 1 + 0.2 * (2 * x - 1));
  else if (name.endsWith('/beta') || name.endsWith('/bias'))
    v = Array.from(u, (x) => 0.1 * (2 * x - 1));
  else {
    const a = Math.sqrt(6 / tf.util.sizeFromShape(shape.slice(0, -1)));
    v = Array.from(u, (x) => (2 * x - 1) * a);
  }
  return tf.tensor(v, shape, 'float32');
}

/** The reference's name of a weight: heads drop their model's name prefix. */
function referenceName(model: LayersModel, originalName: string): string {
  return originalName.startsWith(`${model.name}_`)
    ? originalName.slice(model.name.length + 1)
    : originalName;
}

/** Sets every trainable weight of `model` as the reference draws it; returns how many. */
function draw(key: string, model: LayersModel): number {
  let n = 0;
  for (const w of model.trainableWeights) {
    const t = value(key, referenceName(model, w.originalName), w.shape as number[]);
    w.write(t);
    t.dispose();
    n += 1;
  }
  return n;
}

describe('one step against the PyTorch reference', () => {
  it('gives its terms and its updated online and target weights', async () => {
    const s = golden.settings;
    const base = smoke(EDIY_RANDOM_ROW, 1);
    const config: ExperimentConfig = {
      ...base,
      method: {
        ...base.method,
        regionLosses: base.method.regionLosses.map((t) => ({ ...t, matcher: 'teacher' })),
      },
      scale: {
        ...base.scale,
        backbone: { depth: 18, stem: 'small', widthMultiplier: s.widthMultiplier },
        projector: { hidden: s.hidden, out: s.out },
        imageSize: s.size,
        batchSize: s.batch,
      },
    };
    const online = buildOnline(config);
    const target = buildTarget(config, online);
    const teacher = resnet(
      { ...config.scale.backbone, name: 'golden_teacher', seed: 0 },
      { batchNormLayer: 'fast' },
    );
    const models = namedModels(online, target);
    for (const [key, model] of Object.entries(models)) {
      expect(draw(key, model)).toBe(Object.keys(golden.weights[key] ?? {}).length);
    }
    draw('teacher', teacher);
    const images = tf.tensor(
      Array.from(uniform('images', s.batch * s.size * s.size * 3)),
      [s.batch, s.size, s.size, 3],
      'float32',
    ) as tf.Tensor4D;
    const optimizer = new LARS({
      learningRate: 0,
      momentum: s.momentum,
      weightDecay: s.weightDecay,
      eta: s.eta,
    });
    const result = await trainStep(
      { config, nets: { online, target, teacher }, optimizer, views: fixedViews(s.size) },
      {
        step: 0,
        lr: s.lr,
        tau: s.tau,
        rng: new Rng(0),
        batch: () => ({ images, dispose: () => images.dispose() }),
      },
    );
    for (const [name, expected] of Object.entries(golden.terms))
      expect(result.terms[name], name).toBeCloseTo(expected, 4);
    let compared = 0;
    let worst = 0;
    for (const [key, model] of Object.entries(models)) {
      for (const w of model.trainableWeights) {
        const name = referenceName(model, w.originalName);
        const expected = golden.weights[key]?.[name];
        expect(expected, `${key} ${name}`).toBeDefined();
        const actual = w.read().dataSync();
        expect(actual.length).toBe(expected!.length);
        actual.forEach((a, i) => {
          const e = expected![i] as number;
          const err = Math.abs(a - e) / (1e-3 + Math.abs(e));
          worst = Math.max(worst, err);
        });
        compared += actual.length;
      }
    }
    expect(compared).toBeGreaterThan(6000);
    expect(worst).toBeLessThan(1e-3);
    optimizer.dispose();
    disposeModels([...Object.values(models), teacher]);
  });
});
