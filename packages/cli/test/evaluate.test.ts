import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import { syntheticScenes } from '@ediy/data';
import { extractFeatures, fromLayersModel, knnEvaluate, regionDiversity } from '@ediy/eval';
import { evaluateBackbone, type EvalSettings, type HeldOut } from '@ediy/cli';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

/** The native engine when built here (as in CI), else plain wasm. */
const BACKEND = await pipelineTestBackend();

const settings: EvalSettings = {
  maxImages: 24,
  trainFraction: 0.5,
  knnK: 5,
  linearEpochs: 2,
  denseEpochs: 1,
};

function heldOut(n: number): HeldOut {
  const data = syntheticScenes({ count: n, size: 16, numClasses: 3, seed: 5 });
  const batch = data.get(Array.from({ length: n }, (_, i) => i));
  const shape = [n, 16, 16, 3];
  return {
    images: { data: batch.images, shape },
    raw: { data: batch.images, shape },
    labels: batch.labels,
    masks: { data: batch.masks as Int32Array, shape: [n, 16, 16] },
    numClasses: 3,
  };
}

describe('evaluateBackbone', () => {
  beforeAll(async () => {
    await initBackend({ prefer: BACKEND });
  });

  it('scores the probe-test half with kNN on the probe-train half, and measures region diversity there', () => {
    const model = resnet({ depth: 18, stem: 'small', widthMultiplier: 1 / 16, seed: 3 });
    try {
      const data = heldOut(24);
      const before = tf.memory().numTensors;
      const m = evaluateBackbone(model, data, settings);
      expect(tf.memory().numTensors).toBe(before);
      // The same kNN computed directly on the features of the two halves.
      const f = extractFeatures(fromLayersModel(model), data.images, { maps: true });
      const C = f.pooled.shape[1] as number;
      const knn = knnEvaluate({
        trainFeatures: { data: f.pooled.data.subarray(0, 12 * C), shape: [12, C] },
        trainLabels: data.labels.subarray(0, 12),
        testFeatures: { data: f.pooled.data.subarray(12 * C), shape: [12, C] },
        testLabels: data.labels.subarray(12),
        numClasses: 3,
        k: 5,
      });
      expect(m.knnTop1).toBe(knn.top1);
      const maps = f.maps as { data: Float32Array; shape: readonly number[] };
      const per = maps.data.length / 24;
      const div = regionDiversity({
        data: maps.data.subarray(12 * per),
        shape: [12, ...maps.shape.slice(1)],
      });
      expect(m.meanRegionCosine).toBeCloseTo(div.meanRegionCosine, 6);
      expect(m.effectiveRank).toBeCloseTo(div.effectiveRank, 6);
      for (const v of [m.linearTop1, m.denseMIoU]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    } finally {
      model.dispose();
    }
  });

  it('reports NaN for the metrics the data cannot support', () => {
    const model = resnet({ depth: 18, stem: 'small', widthMultiplier: 1 / 16, seed: 3 });
    try {
      const { masks: _masks, ...noMasks } = heldOut(8);
      const unlabeled = { ...noMasks, labels: new Int32Array(8).fill(-1), numClasses: 0 };
      const m = evaluateBackbone(model, unlabeled, settings);
      expect(m.knnTop1).toBeNaN();
      expect(m.linearTop1).toBeNaN();
      expect(m.denseMIoU).toBeNaN();
      expect(Number.isFinite(m.effectiveRank)).toBe(true);
      expect(() =>
        evaluateBackbone(
          model,
          { ...unlabeled, images: { data: new Float32Array(2 * 768), shape: [2, 16, 16, 3] } },
          settings,
        ),
      ).toThrow(/at least 3 held-out images, got 2/);
    } finally {
      model.dispose();
    }
  });
});
