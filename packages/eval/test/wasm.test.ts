import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import {
  denseProbe,
  fromLayersModel,
  linearProbe,
  saliencyMaps,
  upsampleBilinear,
} from '@ediy/eval';
import { leakedBy, randomImages, regionTask, separable, tinyModel } from './helpers.js';

beforeAll(async () => {
  const info = await initBackend({ prefer: 'wasm' });
  expect(info.name).toBe('wasm');
});

describe('on the wasm backend', () => {
  it('differentiates the bilinear upsampling the dense probe uses, as on cpu', async () => {
    const g = tf.tensor4d(
      Float32Array.from({ length: 5 * 7 }, (_, i) => (i % 5) - 2),
      [1, 5, 7, 1],
    );
    const x = tf.zeros([1, 2, 3, 1]);
    const gradWasm = tf
      .grad((t: tf.Tensor) => tf.sum(tf.mul(upsampleBilinear(t as tf.Tensor4D, [5, 7]), g)))(x)
      .dataSync();
    tf.dispose([g, x]);
    await initBackend({ prefer: 'cpu' });
    const g2 = tf.tensor4d(
      Float32Array.from({ length: 5 * 7 }, (_, i) => (i % 5) - 2),
      [1, 5, 7, 1],
    );
    const x2 = tf.zeros([1, 2, 3, 1]);
    const gradCpu = tf
      .grad((t: tf.Tensor) => tf.sum(tf.mul(upsampleBilinear(t as tf.Tensor4D, [5, 7]), g2)))(x2)
      .dataSync();
    tf.dispose([g2, x2]);
    await initBackend({ prefer: 'wasm' });
    expect(tf.getBackend()).toBe('wasm');
    expect(gradWasm.length).toBe(6);
    gradWasm.forEach((v, i) => expect(v).toBeCloseTo(gradCpu[i] as number, 4));
    expect(Math.max(...gradWasm.map(Math.abs))).toBeGreaterThan(0);
  });

  it('trains the dense and linear probes', () => {
    const train = regionTask(8, 3, 3, 2, 1);
    const test = regionTask(4, 3, 3, 2, 2);
    let mIoU = 0;
    const leaked = leakedBy(() => {
      mIoU = denseProbe({
        trainMaps: train.maps,
        trainMasks: train.masks,
        testMaps: test.maps,
        testMasks: test.masks,
        numClasses: 2,
        epochs: 10,
        batchSize: 4,
      }).mIoU;
    });
    expect(leaked).toBe(0);
    expect(mIoU).toBeGreaterThan(0.9);
    const a = separable(64, 4, 2, 1);
    const b = separable(32, 4, 2, 2);
    expect(
      linearProbe({
        trainFeatures: a.x,
        trainLabels: a.y,
        testFeatures: b.x,
        testLabels: b.y,
        numClasses: 2,
        epochs: 5,
        batchSize: 16,
      }).top1,
    ).toBeGreaterThan(0.95);
  });

  it('computes Grad-CAM through a LayersModel head', () => {
    const model = tinyModel();
    const heat = saliencyMaps(fromLayersModel(model), randomImages(2, 8, 1), { method: 'gradcam' });
    expect(heat.shape).toEqual([2, 8, 8]);
    expect(Math.max(...heat.data)).toBeCloseTo(1, 5);
    model.dispose();
  });
});
