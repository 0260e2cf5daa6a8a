import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import {
  extractFeatures,
  fromLayersModel,
  globalAveragePool,
  type FeatureExtractor,
} from '@ediy/eval';
import { leakedBy, randomImages, tinyModel } from './helpers.js';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

describe('fromLayersModel', () => {
  it('wraps a [map, pooled] model and finds its pooling head', () => {
    const model = tinyModel();
    const extractor = fromLayersModel(model);
    expect(extractor.pool).toBeTypeOf('function');
    const imgs = randomImages(2, 8, 3);
    tf.tidy(() => {
      const x = tf.tensor4d(imgs.data, [2, 8, 8, 3]);
      const { map, pooled } = extractor(x);
      expect(map.shape).toEqual([2, 4, 4, 4]);
      expect(pooled.shape).toEqual([2, 4]);
      const viaPool = extractor.pool?.(map) as tf.Tensor;
      expect(Array.from(viaPool.dataSync())).toEqual(Array.from(pooled.dataSync()));
      const mean = globalAveragePool(map).dataSync();
      pooled.dataSync().forEach((v, i) => expect(v).toBeCloseTo(mean[i] as number, 5));
    });
    model.dispose();
  });

  it('rejects a model without two outputs', () => {
    const model = tinyModel();
    const single = { outputs: [model.outputs[0]] } as unknown as Parameters<
      typeof fromLayersModel
    >[0];
    expect(() => fromLayersModel(single)).toThrow(/two outputs \[map, pooled\], got 1/);
    model.dispose();
  });
});

describe('extractFeatures', () => {
  it('gives the same features batched as in one pass, as typed arrays, without leaks', () => {
    const model = tinyModel();
    const extractor = fromLayersModel(model);
    const imgs = randomImages(5, 8, 4);
    const direct = tf.tidy(() => extractor(tf.tensor4d(imgs.data, [5, 8, 8, 3])).pooled.dataSync());
    let out: ReturnType<typeof extractFeatures> | undefined;
    expect(
      leakedBy(() => (out = extractFeatures(extractor, imgs, { batchSize: 2, maps: true }))),
    ).toBe(0);
    expect(out?.pooled.shape).toEqual([5, 4]);
    expect(out?.maps?.shape).toEqual([5, 4, 4, 4]);
    expect(out?.pooled.data).toBeInstanceOf(Float32Array);
    Array.from(direct).forEach((v, i) => expect(out?.pooled.data[i]).toBeCloseTo(v, 5));
    // The maps are the ones the model computes: their mean is the pooled feature.
    const maps = out?.maps?.data as Float32Array;
    for (let img = 0; img < 5; img++) {
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let r = 0; r < 16; r++) s += maps[img * 64 + r * 4 + c] as number;
        expect(s / 16).toBeCloseTo(out?.pooled.data[img * 4 + c] as number, 5);
      }
    }
    model.dispose();
  });

  it('accepts a tensor or a bare Float32Array with its shape', () => {
    const extractor: FeatureExtractor = (x) => {
      const map = tf.mul(x, 2) as tf.Tensor4D;
      return { map, pooled: globalAveragePool(map) };
    };
    const imgs = randomImages(3, 4, 5);
    const t = tf.tensor4d(imgs.data, [3, 4, 4, 3]);
    const a = extractFeatures(extractor, t, { batchSize: 2 });
    const b = extractFeatures(extractor, imgs.data, { shape: [3, 4, 4, 3] });
    expect(Array.from(a.pooled.data)).toEqual(Array.from(b.pooled.data));
    expect(t.isDisposed).toBe(false);
    expect(a.maps).toBeUndefined();
    t.dispose();
    expect(() => extractFeatures(extractor, imgs.data)).toThrow(
      /options.shape \[n,H,W,C\] is required/,
    );
  });

  it('names bad inputs and bad extractor outputs', () => {
    const good: FeatureExtractor = (x) => ({ map: x, pooled: globalAveragePool(x) });
    expect(() =>
      extractFeatures(good, { data: new Float32Array(10), shape: [1, 2, 2, 3] }),
    ).toThrow(/images.data has 10 values but shape \[1,2,2,3\] needs 12/);
    expect(() => extractFeatures(good, { data: new Float32Array(12), shape: [2, 2, 3] })).toThrow(
      /images must have rank 4/,
    );
    const badPooled: FeatureExtractor = (x) => ({
      map: x,
      pooled: tf.zeros([x.shape[0], 5]) as tf.Tensor2D,
    });
    expect(() => extractFeatures(badPooled, randomImages(2, 2, 1))).toThrow(
      /extractor pooled has C=5/,
    );
    const nan: FeatureExtractor = (x) => ({
      map: x,
      pooled: tf.fill([x.shape[0], 3], NaN) as tf.Tensor2D,
    });
    expect(() => extractFeatures(nan, randomImages(2, 2, 1))).toThrow(/non-finite pooled feature/);
    expect(() => extractFeatures(good, randomImages(2, 2, 1), { batchSize: 0 })).toThrow(
      /batchSize must be an integer >= 1, got 0/,
    );
  });
});
