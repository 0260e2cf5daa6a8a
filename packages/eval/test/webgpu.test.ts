/**
 * Evaluation on tfjs-backend-webgpu (the software adapter in CI): the asynchronous
 * functions give the cpu backend's results, the synchronous ones fail there with the
 * error that says to read asynchronously, and repeating an evaluation leaves tensors and
 * GPU buffers flat.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import {
  denseProbeAsync,
  extractFeaturesAsync,
  fromLayersModel,
  knnEvaluate,
  knnEvaluateAsync,
  linearProbeAsync,
  regionDiversityAsync,
  saliencyMapsAsync,
  type HostArray,
} from '@ediy/eval';
import { expectClose } from '../../../tools/test-utils/tensors.js';
import { findTestAdapter } from '../../backend/test/webgpu-helpers.js';
import { randomImages, regionTask, separable, tinyModel } from './helpers.js';

const { skip } = await findTestAdapter();

const images = randomImages(6, 8, 3);
const task = {
  train: separable(48, 4, 3, 1, 1),
  test: separable(24, 4, 3, 2, 1),
  dense: regionTask(4, 2, 2, 2, 3),
  denseTest: regionTask(2, 2, 2, 2, 4),
};

/** Everything an evaluation computes, from the same inputs, on the current backend. */
async function evaluate() {
  const model = tinyModel();
  try {
    const extractor = fromLayersModel(model);
    const features = await extractFeaturesAsync(extractor, images, { batchSize: 4, maps: true });
    const common = {
      trainFeatures: task.train.x,
      trainLabels: task.train.y,
      testFeatures: task.test.x,
      testLabels: task.test.y,
      numClasses: 3,
    };
    const knn = await knnEvaluateAsync({ ...common, k: 5 });
    const linear = await linearProbeAsync({ ...common, epochs: 3, batchSize: 16 });
    const dense = await denseProbeAsync({
      trainMaps: task.dense.maps,
      trainMasks: task.dense.masks,
      testMaps: task.denseTest.maps,
      testMasks: task.denseTest.masks,
      numClasses: 2,
      epochs: 2,
      batchSize: 2,
    });
    const saliency = await saliencyMapsAsync(extractor, images, { method: 'gradcam' });
    const diversity = await regionDiversityAsync(features.maps as HostArray);
    return { features, knn, linear, dense, saliency, diversity };
  } finally {
    model.dispose();
  }
}

describe.skipIf(skip !== undefined)('evaluation on webgpu (software adapter in CI)', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
    await initBackend({ prefer: 'webgpu' });
    // Small uploads are computed on the CPU by default; run the shaders themselves.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
  });
  afterAll(async () => {
    tf.env().set('WEBGPU_CPU_FORWARD', true);
    await tf.setBackend('cpu');
  });

  it('the async functions give the cpu results, the sync ones say to read asynchronously, and nothing is left behind', async () => {
    await tf.setBackend('webgpu');
    expect(() =>
      knnEvaluate({
        trainFeatures: task.train.x,
        trainLabels: task.train.y,
        testFeatures: task.test.x,
        testLabels: task.test.y,
        numClasses: 3,
      }),
    ).toThrow(/use await tensor.data\(\)/);
    const seen: { tensors: number; usedBuffers: number }[] = [];
    let got: Awaited<ReturnType<typeof evaluate>> | undefined;
    for (let round = 0; round < 2; round++) {
      got = await evaluate();
      const backend = tf.backend() as unknown as { bufferManager: { getNumUsedBuffers(): number } };
      seen.push({
        tensors: tf.memory().numTensors,
        usedBuffers: backend.bufferManager.getNumUsedBuffers(),
      });
    }
    expect(seen[1]).toEqual(seen[0]);
    const gpu = got!;

    await tf.setBackend('cpu');
    const cpu = await evaluate();
    expectClose(gpu.features.pooled.data, cpu.features.pooled.data, 1e-4, 'pooled features');
    expectClose(gpu.features.maps!.data, cpu.features.maps!.data, 1e-4, 'maps');
    expect(gpu.knn.top1).toBe(cpu.knn.top1);
    expect(gpu.knn.correct).toEqual(cpu.knn.correct);
    expect(cpu.knn.top1).toBeGreaterThan(0.5);
    expectClose(
      Float32Array.from(gpu.linear.lossCurve),
      Float32Array.from(cpu.linear.lossCurve),
      1e-4,
      'linear-probe loss curve',
    );
    expect(gpu.linear.correct).toEqual(cpu.linear.correct);
    expectClose(
      Float32Array.from(gpu.dense.lossCurve),
      Float32Array.from(cpu.dense.lossCurve),
      1e-4,
      'dense-probe loss curve',
    );
    expect(gpu.dense.mIoU).toBeCloseTo(cpu.dense.mIoU, 6);
    expectClose(gpu.saliency.data, cpu.saliency.data, 1e-3, 'Grad-CAM maps');
    expect(Math.max(...cpu.saliency.data)).toBe(1);
    expect(gpu.diversity.meanRegionCosine).toBeCloseTo(cpu.diversity.meanRegionCosine, 5);
    expect(gpu.diversity.effectiveRank).toBeCloseTo(cpu.diversity.effectiveRank, 3);
  }, 1_800_000);
});
