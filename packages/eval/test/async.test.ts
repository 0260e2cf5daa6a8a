/**
 * The asynchronous evaluation functions (`await data()`, the only read on webgpu in Node)
 * against the synchronous ones on cpu and wasm: bit-identical results from tensor and
 * host-array inputs, the same errors as rejections, no tensor left behind, and a failed
 * read frees what the computation held.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '@ediy/backend';
import {
  denseProbe,
  denseProbeAsync,
  effectiveRank,
  effectiveRankAsync,
  extractFeatures,
  extractFeaturesAsync,
  fromLayersModel,
  knnClassifier,
  knnClassifierAsync,
  knnEvaluate,
  knnEvaluateAsync,
  linearProbe,
  linearProbeAsync,
  regionDiversity,
  regionDiversityAsync,
  regionSimilarity,
  regionSimilarityAsync,
  saliencyMaps,
  saliencyMapsAsync,
  type HostArray,
} from '@ediy/eval';
import { randomImages, regionTask, separable, tinyModel } from './helpers.js';

/** Live tensors after awaiting `fn` minus before. */
async function leakedByAsync(fn: () => Promise<unknown>): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  return tf.memory().numTensors - before;
}

function tensorOf(x: HostArray | HostArray<Int32Array>): tf.Tensor {
  return x.data instanceof Int32Array
    ? tf.tensor(x.data, [...x.shape], 'int32')
    : tf.tensor(x.data, [...x.shape]);
}

afterEach(() => {
  vi.restoreAllMocks();
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`on ${backend}, the async functions give the sync results exactly`, () => {
    beforeAll(async () => {
      expect((await initBackend({ prefer: backend })).name).toBe(backend);
    });

    it('extractFeaturesAsync', async () => {
      const model = tinyModel();
      const extractor = fromLayersModel(model);
      const imgs = randomImages(5, 8, 4);
      const t = tensorOf(imgs) as tf.Tensor4D;
      const now = extractFeatures(extractor, t, { batchSize: 2, maps: true });
      let later: Awaited<ReturnType<typeof extractFeaturesAsync>> | undefined;
      expect(
        await leakedByAsync(
          async () =>
            (later = await extractFeaturesAsync(extractor, t, { batchSize: 2, maps: true })),
        ),
      ).toBe(0);
      expect(later).toEqual(now);
      expect(later?.maps?.shape).toEqual([5, 4, 4, 4]);
      expect(await extractFeaturesAsync(extractor, imgs, { batchSize: 3 })).toEqual(
        extractFeatures(extractor, imgs, { batchSize: 3 }),
      );
      await expect(extractFeaturesAsync(extractor, imgs.data)).rejects.toThrow(
        /options.shape \[n,H,W,C\] is required/,
      );
      const nan = (images: tf.Tensor4D) => {
        const map = tf.fill([images.shape[0], 1, 1, 2], NaN) as tf.Tensor4D;
        return { map, pooled: tf.mean(map, [1, 2]) as tf.Tensor2D };
      };
      expect(
        await leakedByAsync(() =>
          expect(extractFeaturesAsync(nan, imgs)).rejects.toThrow(/non-finite pooled feature/),
        ),
      ).toBe(0);
      t.dispose();
      model.dispose();
    });

    it('knnClassifierAsync, scoresAsync and knnEvaluateAsync', async () => {
      const train = separable(60, 6, 3, 1, 1.5);
      const test = separable(40, 6, 3, 2, 1.5);
      const trainT = tensorOf(train.x);
      const testT = tensorOf(test.x);
      const opts = {
        trainFeatures: trainT,
        trainLabels: train.y,
        testFeatures: testT,
        testLabels: test.y,
        numClasses: 3,
        k: 7,
        batchSize: 16,
      };
      const now = knnEvaluate(opts);
      let later: Awaited<ReturnType<typeof knnEvaluateAsync>> | undefined;
      expect(await leakedByAsync(async () => (later = await knnEvaluateAsync(opts)))).toBe(0);
      expect(later).toEqual(now);
      expect(now.top1).toBeGreaterThan(0.5); // a real vote, not a tie everywhere
      const sync = knnClassifier(opts);
      const clf = await knnClassifierAsync(opts);
      expect(await clf.scoresAsync(testT)).toEqual(sync.scores(testT));
      expect(clf.scores(test.x)).toEqual(sync.scores(test.x));
      clf.dispose();
      sync.dispose();
      await expect(clf.scoresAsync(testT)).rejects.toThrow(/disposed/);
      await expect(knnEvaluateAsync({ ...opts, k: 61 })).rejects.toThrow(
        /k must be at most the number of training features \(60\), got 61/,
      );
      tf.dispose([trainT, testT]);
    });

    it('linearProbeAsync', async () => {
      const train = separable(90, 6, 3, 3, 1);
      const test = separable(45, 6, 3, 4, 1);
      const trainT = tensorOf(train.x);
      const opts = {
        trainFeatures: trainT,
        trainLabels: train.y,
        testFeatures: test.x,
        testLabels: test.y,
        numClasses: 3,
        epochs: 4,
        batchSize: 32,
        seed: 5,
      };
      const now = linearProbe(opts);
      let later: Awaited<ReturnType<typeof linearProbeAsync>> | undefined;
      expect(await leakedByAsync(async () => (later = await linearProbeAsync(opts)))).toBe(0);
      expect(later).toEqual(now);
      expect(now.lossCurve).toHaveLength(4);
      await expect(linearProbeAsync({ ...opts, epochs: 0 })).rejects.toThrow(
        /epochs must be an integer >= 1, got 0/,
      );
      trainT.dispose();
    });

    it('denseProbeAsync', async () => {
      const train = regionTask(6, 2, 3, 2, 1);
      const test = regionTask(3, 2, 3, 2, 2);
      const maps = tensorOf(train.maps);
      const masks = tensorOf(train.masks);
      const opts = {
        trainMaps: maps,
        trainMasks: masks,
        testMaps: test.maps,
        testMasks: test.masks,
        numClasses: 2,
        epochs: 3,
        batchSize: 4,
      };
      const now = denseProbe(opts);
      let later: Awaited<ReturnType<typeof denseProbeAsync>> | undefined;
      expect(await leakedByAsync(async () => (later = await denseProbeAsync(opts)))).toBe(0);
      expect(later).toEqual(now);
      expect(now.lossCurve).toHaveLength(3);
      await expect(denseProbeAsync({ ...opts, ignoreLabel: 1 })).rejects.toThrow(
        /ignoreLabel must not be a class id in \[0, 1\], got 1/,
      );
      tf.dispose([maps, masks]);
    });

    it('saliencyMapsAsync, by norm and by Grad-CAM', async () => {
      const model = tinyModel();
      const extractor = fromLayersModel(model);
      const imgs = tensorOf(randomImages(3, 8, 6)) as tf.Tensor4D;
      for (const method of ['norm', 'gradcam'] as const) {
        const now = saliencyMaps(extractor, imgs, { method, batchSize: 2 });
        let later: HostArray | undefined;
        expect(
          await leakedByAsync(
            async () =>
              (later = await saliencyMapsAsync(extractor, imgs, { method, batchSize: 2 })),
          ),
        ).toBe(0);
        expect(later).toEqual(now);
        expect(Math.max(...now.data)).toBeGreaterThan(0);
      }
      await expect(saliencyMapsAsync(extractor, imgs, { method: 'cam' as 'norm' })).rejects.toThrow(
        /saliency method must be 'norm' or 'gradcam', got "cam"/,
      );
      imgs.dispose();
      model.dispose();
    });

    it('regionSimilarityAsync, effectiveRankAsync and regionDiversityAsync', async () => {
      const { maps } = regionTask(4, 3, 3, 3, 7);
      const t = tensorOf(maps);
      const rows = tf.reshape(t, [-1, 4]);
      let similarity = NaN;
      expect(await leakedByAsync(async () => (similarity = await regionSimilarityAsync(t)))).toBe(
        0,
      );
      expect(similarity).toBe(regionSimilarity(t));
      expect(await effectiveRankAsync(rows)).toBe(effectiveRank(rows));
      expect(await effectiveRankAsync(rows, { center: true })).toBe(
        effectiveRank(rows, { center: true }),
      );
      expect(await regionDiversityAsync(t)).toEqual(regionDiversity(t));
      expect(await regionDiversityAsync(maps)).toEqual(regionDiversity(maps));
      await expect(
        regionSimilarityAsync({ data: new Float32Array(3), shape: [1, 1, 1, 3] }),
      ).rejects.toThrow(/at least 2 regions/);
      tf.dispose([t, rows]);
    });
  });
}

describe('a read that fails mid-way', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
  });

  it("rejects and frees the probe's variables and the optimiser's state", async () => {
    const train = separable(64, 4, 2, 8);
    const opts = {
      trainFeatures: train.x,
      trainLabels: train.y,
      testFeatures: train.x,
      testLabels: train.y,
      numClasses: 2,
      epochs: 3,
      batchSize: 16,
    };
    const dense = regionTask(4, 2, 2, 2, 9);
    const original = tf.Tensor.prototype.dataSync;
    for (const run of [
      () => linearProbeAsync(opts),
      () =>
        denseProbeAsync({
          trainMaps: dense.maps,
          trainMasks: dense.masks,
          testMaps: dense.maps,
          testMasks: dense.masks,
          numClasses: 2,
          epochs: 3,
          batchSize: 2,
        }),
    ]) {
      let reads = 0;
      vi.spyOn(tf.Tensor.prototype, 'data').mockImplementation(function (this: tf.Tensor) {
        return ++reads === 2
          ? Promise.reject(new Error('the device was lost'))
          : Promise.resolve(original.call(this) as never);
      });
      const before = tf.memory().numTensors;
      await expect(run()).rejects.toThrow('the device was lost');
      expect(tf.memory().numTensors).toBe(before);
      expect(reads).toBe(2);
      vi.restoreAllMocks();
    }
  });
});
