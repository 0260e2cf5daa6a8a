import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import * as tfl from '@tensorflow/tfjs-layers';
import { resnet } from '@ediy/backbones';
import {
  datasetStream,
  syntheticScenes,
  type Dataset,
  type DatasetBatch,
  type EvalParts,
  type ImageStream,
} from '@ediy/data';
import { extractFeatures, fromLayersModel, knnEvaluate } from '@ediy/eval';
import {
  estimateBatchNorm,
  evaluateBackbone,
  evaluateUntrained,
  openEvalData,
  untrainedBackbone,
  type EvalSettings,
} from '@ediy/eval/node';
import { EVAL_SETTINGS } from '@ediy/cli';
import { buildOnline, openDataset, resolveExperiment, type ExperimentConfig } from '@ediy/trainer';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';
import { tempDir } from './helpers.js';

/** The native engine when built here (as in CI), else plain wasm. */
const BACKEND = await pipelineTestBackend();

const settings: EvalSettings = {
  ...EVAL_SETTINGS.smoke,
  memory: 24,
  test: 12,
  knnK: 5,
  linearEpochs: 2,
  denseEpochs: 1,
  bootstrap: 100,
};

function scenes(
  train: number,
  test: number,
): EvalParts & { sets: Record<'train' | 'test', Dataset> } {
  const t = syntheticScenes({ count: train, size: 16, numClasses: 3, seed: 5 });
  const h = syntheticScenes({ count: test, size: 16, numClasses: 3, seed: 6 });
  return {
    train: datasetStream(t),
    heldOut: datasetStream(h),
    how: 'seed',
    sizes: { train, heldOut: test },
    unreadable: [],
    report: '',
    sets: { train: t, test: h },
  };
}

/** Every batch of a stream, concatenated. */
async function readAll(s: ImageStream): Promise<DatasetBatch> {
  const images: Float32Array[] = [];
  const labels: number[] = [];
  for await (const b of s.batches(7)) {
    images.push(b.images);
    labels.push(...b.labels);
  }
  const all = new Float32Array(images.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of images) {
    all.set(a, at);
    at += a.length;
  }
  return { images: all, labels: Int32Array.from(labels) };
}

const tiny = (options: Parameters<typeof resnet>[1] = {}) =>
  resnet({ depth: 18, stem: 'small', widthMultiplier: 1 / 16, seed: 3 }, options);

/** Normalised images of a dataset, as evaluation feeds them. */
function normalised(d: Dataset): { data: Float32Array; shape: number[] } {
  const [H, W] = d.imageShape;
  const images = d.get(Array.from({ length: d.size }, (_, i) => i)).images;
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const data = images.map((v, i) => (v - (mean[i % 3] as number)) / (std[i % 3] as number));
  return { data, shape: [d.size, H, W, 3] };
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    expect(Math.abs((a[i] as number) - (b[i] as number))).toBeLessThan(
      tol * (1 + Math.abs(b[i] as number)),
    );
  }
}

function writeImage(path: string, value: number): void {
  const png = new PNG({ width: 8, height: 8 });
  for (let i = 0; i < png.data.length; i += 4) {
    png.data.fill(value, i, i + 3);
    png.data[i + 3] = 255;
  }
  writeFileSync(path, PNG.sync.write(png));
}

describe('evaluateBackbone', () => {
  beforeAll(async () => {
    await initBackend({ prefer: BACKEND });
  });

  it('votes with the training images as memory and scores the held-out ones, with intervals', async () => {
    const model = tiny();
    try {
      const data = scenes(24, 12);
      const before = tf.memory().numTensors;
      const e = await evaluateBackbone(model, data, settings);
      expect(tf.memory().numTensors).toBe(before);
      expect([e.memory, e.test]).toEqual([24, 12]);
      expect(e.seconds).toBeGreaterThan(0);
      // The same kNN computed directly on the two sets' features.
      const ex = fromLayersModel(model);
      const train = extractFeatures(ex, normalised(data.sets.train));
      const test = extractFeatures(ex, normalised(data.sets.test));
      const labels = (d: Dataset) => d.get(Array.from({ length: d.size }, (_, i) => i)).labels;
      const knn = knnEvaluate({
        trainFeatures: train.pooled,
        trainLabels: labels(data.sets.train),
        testFeatures: test.pooled,
        testLabels: labels(data.sets.test),
        numClasses: 3,
        k: 5,
      });
      expect(e.metrics.knnTop1).toBeCloseTo(knn.top1, 6);
      for (const key of ['knnTop1', 'linearTop1'] as const) {
        const ci = e.intervals[key];
        expect(ci?.estimate).toBeCloseTo(e.metrics[key], 12);
        expect(ci?.low).toBeLessThanOrEqual(e.metrics[key]);
        expect(ci?.high).toBeGreaterThanOrEqual(e.metrics[key]);
        expect(ci?.n).toBe(12);
      }
      for (const v of [e.metrics.linearTop1, e.metrics.denseMIoU]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      expect(Number.isFinite(e.metrics.effectiveRank)).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it('reports NaN for the metrics the data cannot support', async () => {
    const model = tiny();
    try {
      const unlabeled = (d: Dataset): Dataset => ({
        ...d,
        name: d.name,
        size: d.size,
        imageShape: d.imageShape,
        numClasses: 0,
        hasMasks: false,
        get: (idx) => {
          const b = d.get(idx);
          return { images: b.images, labels: new Int32Array(b.labels.length).fill(-1) };
        },
      });
      const data = scenes(8, 4);
      const e = await evaluateBackbone(
        model,
        {
          ...data,
          train: datasetStream(unlabeled(data.sets.train)),
          heldOut: datasetStream(unlabeled(data.sets.test)),
        },
        settings,
      );
      expect(e.metrics.knnTop1).toBeNaN();
      expect(e.metrics.linearTop1).toBeNaN();
      expect(e.metrics.denseMIoU).toBeNaN();
      expect(e.intervals).toEqual({});
      expect(Number.isFinite(e.metrics.effectiveRank)).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it('scores a trivially separable two-class folder near 1, on images pre-training never reads', async () => {
    // A plain folder, class-sorted on disk: dark images in a/, bright ones in b/.
    const dir = tempDir('ediy-eval-folder-');
    for (const [k, cls] of ['a', 'b'].entries()) {
      mkdirSync(join(dir, cls));
      for (let i = 0; i < 20; i++)
        writeImage(join(dir, cls, `${i}.png`), k === 0 ? 10 + i : 200 + i);
    }
    const config = { kind: 'path', path: dir, size: 8 } as const;
    const data = await openEvalData(config, { ...settings, memory: Infinity, test: Infinity });
    expect([data.train.size, data.heldOut.size, data.how]).toEqual([32, 8, 'split']);
    expect(data.heldOut.streamed).toBe(true);
    // Both parts hold both classes.
    const train = await readAll(data.train);
    const heldOut = await readAll(data.heldOut);
    expect(new Set(train.labels)).toEqual(new Set([0, 1]));
    expect(new Set(heldOut.labels)).toEqual(new Set([0, 1]));
    // A smaller memory is a stratified sample.
    const small = await openEvalData(config, { ...settings, memory: 10, test: 4 });
    expect([small.train.size, small.heldOut.size, small.sizes.train]).toEqual([10, 4, 32]);
    expect(Array.from((await readAll(small.train)).labels).filter((y) => y === 1)).toHaveLength(5);
    const model = tiny();
    try {
      const e = await evaluateBackbone(model, data, { ...settings, linearEpochs: 20, knnK: 5 });
      expect(e.metrics.knnTop1).toBeGreaterThan(0.95);
      expect(e.metrics.linearTop1).toBeGreaterThan(0.95);
    } finally {
      model.dispose();
    }
    // Pre-training reads the training part only: no scored image is among its images.
    const pretrain = await openDataset(config, 'train');
    expect(pretrain.size).toBe(32);
    const key = (d: Dataset, i: number) => d.get([i]).images[0];
    const seen = new Set(Array.from({ length: pretrain.size }, (_, i) => key(pretrain, i)));
    const px = 8 * 8 * 3;
    for (let i = 0; i < data.heldOut.size; i++)
      expect(seen.has(heldOut.images[i * px])).toBe(false);
  }, 300_000); // decode threads start from the sources here, slow on a loaded machine
});

describe('the untrained floor', () => {
  beforeAll(async () => {
    await initBackend({ prefer: BACKEND });
  });

  const config = (): ExperimentConfig =>
    resolveExperiment(
      { name: 'floor', method: { byolWeight: 1, regionLosses: [], localPredictor: false } },
      { preset: 'smoke', seed: 4 },
    );

  it("is the run's seeded initialisation", () => {
    const c = config();
    const a = untrainedBackbone(c);
    const online = buildOnline(c);
    try {
      let compared = 0;
      for (const layer of a.layers) {
        const mine = layer.getWeights();
        // The trainer folds the ReLU layers (no weights) into its BatchNorms (fuseReLU).
        if (mine.length === 0) continue;
        const theirs = online.backbone.getLayer(layer.name).getWeights();
        expect(theirs.length).toBe(mine.length);
        mine.forEach((w, i) => expect(w.dataSync()).toEqual((theirs[i] as tf.Tensor).dataSync()));
        compared += mine.length;
      }
      expect(compared).toBeGreaterThan(40);
    } finally {
      a.dispose();
      for (const m of Object.values(online)) (m as { dispose(): void }).dispose();
    }
  });

  it.each([
    ["tfjs's", {}],
    ["the trainer's fast", { batchNormLayer: 'fast', fuseReLU: true, convLayer: 'fast' }],
  ] as const)(
    "sets %s BatchNorm layers' moving statistics to the data's statistics and changes nothing else",
    async (_, options) => {
      const model = tiny(options);
      try {
        const bn = model.getLayer('bn1');
        const [gamma, beta] = bn.getWeights().map((w) => w.dataSync().slice());
        const conv = model.getLayer('conv1').getWeights()[0]?.dataSync().slice();
        const scenes8 = scenes(8, 4);
        const images = scenes8.train;
        // bn1's input over the 8 images: its mean and biased variance per channel.
        const probe = tfl.model({ inputs: model.inputs, outputs: bn.input as tfl.SymbolicTensor });
        const { mean, variance } = tf.tidy(() => {
          const x = probe.predict(
            tf.tensor4d(normalised(scenes8.sets.train).data, [8, 16, 16, 3]),
          ) as tf.Tensor;
          const m = tf.moments(x, [0, 1, 2]);
          return { mean: m.mean.dataSync(), variance: m.variance.dataSync() };
        });
        const before = tf.memory().numTensors;
        // Three passes over the same 8 images: the averages are those images' statistics.
        await estimateBatchNorm(model, images, 3, 8);
        expect(tf.memory().numTensors).toBe(before);
        const after = bn.getWeights().map((w) => w.dataSync());
        expect(after[0]).toEqual(gamma);
        expect(after[1]).toEqual(beta);
        expect(model.getLayer('conv1').getWeights()[0]?.dataSync()).toEqual(conv);
        expectClose(after[2] as Float32Array, mean, 1e-4);
        expectClose(after[3] as Float32Array, variance, 1e-4);
        await expect(estimateBatchNorm(model, images, 0, 8)).rejects.toThrow(
          /batches must be an integer >= 1, got 0/,
        );
      } finally {
        model.dispose();
      }
    },
  );

  it('evaluates both BatchNorm conventions exactly like a run and takes the better as the floor', async () => {
    const c = config();
    const data = scenes(24, 12);
    const before = tf.memory().numTensors;
    const u = await evaluateUntrained(c, { settings, evalData: data });
    expect(tf.memory().numTensors).toBe(before);
    const { initial, estimated } = u.conventions;
    expect(initial.metrics).not.toEqual(estimated.metrics);
    const mean = (e: typeof initial) => (e.metrics.knnTop1 + e.metrics.linearTop1) / 2;
    expect(u.floor).toBe(mean(estimated) > mean(initial) ? 'estimated' : 'initial');
    expect(u.best).toBe(u.conventions[u.floor]);
    // The initial convention is the plain evaluation of the seeded initialisation.
    const model = untrainedBackbone(c);
    try {
      expect((await evaluateBackbone(model, data, settings, c.seed)).metrics).toEqual(
        initial.metrics,
      );
    } finally {
      model.dispose();
    }
  });
});
