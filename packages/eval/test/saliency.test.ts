import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import {
  fromLayersModel,
  globalAveragePool,
  saliencyMaps,
  type FeatureExtractor,
} from '@ediy/eval';
import { leakedBy, randomImages, tinyModel } from './helpers.js';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

/** An extractor ignoring its input: a fixed map [B,4,4,3], small noise plus one hot region (1,2). */
function hotRegionExtractor(seed = 1): FeatureExtractor {
  const rng = new Rng(seed);
  const base = Float32Array.from({ length: 4 * 4 * 3 }, () => 0.1 + 0.05 * rng.next());
  base.set([3, 2, 4], (1 * 4 + 2) * 3);
  return (images) => {
    const B = images.shape[0];
    const map = tf.tile(tf.tensor4d(base, [1, 4, 4, 3]), [B, 1, 1, 1]) as tf.Tensor4D;
    return { map, pooled: globalAveragePool(map) };
  };
}

function argmax(a: ArrayLike<number>, from: number, len: number): number {
  let best = from;
  for (let i = from; i < from + len; i++) if ((a[i] as number) > (a[best] as number)) best = i;
  return best - from;
}

describe('saliencyMaps', () => {
  for (const [method, target] of [
    ['norm', 'norm'],
    ['gradcam', 'norm'],
    ['gradcam', 'cosine'],
  ] as const) {
    it(`${method}${method === 'gradcam' ? ` (${target})` : ''} peaks on the one hot region, in [0,1] at image size`, () => {
      const imgs = randomImages(2, 16, 1);
      const heat = saliencyMaps(hotRegionExtractor(), imgs, { method, target, batchSize: 1 });
      expect(heat.shape).toEqual([2, 16, 16]);
      for (let i = 0; i < 2; i++) {
        const peak = argmax(heat.data, i * 256, 256);
        // Region (1,2) of the 4x4 map covers rows 4-7 and columns 8-11 of the 16x16 image.
        expect(Math.floor(peak / 16 / 4)).toBe(1);
        expect(Math.floor((peak % 16) / 4)).toBe(2);
      }
      expect(Math.min(...heat.data)).toBe(0);
      expect(Math.max(...heat.data)).toBeCloseTo(1, 6);
    });
  }

  it('gradcam with global average pooling is relu(A . pooled), rescaled (closed form)', () => {
    const rng = new Rng(5);
    const mapData = Float32Array.from({ length: 2 * 2 * 3 }, () => rng.normal());
    const extractor: FeatureExtractor = (images) => {
      const map = tf.tile(tf.tensor4d(mapData, [1, 2, 2, 3]), [
        images.shape[0],
        1,
        1,
        1,
      ]) as tf.Tensor4D;
      return { map, pooled: globalAveragePool(map) };
    };
    // Images of the map's size, so no upsampling: the heat is the CAM itself.
    const heat = saliencyMaps(extractor, randomImages(1, 2, 2), { method: 'gradcam' });
    const p = [0, 1, 2].map(
      (c) => [0, 1, 2, 3].reduce((s, r) => s + (mapData[r * 3 + c] as number), 0) / 4,
    );
    const cam = [0, 1, 2, 3].map((r) =>
      Math.max(
        0,
        [0, 1, 2].reduce((s, c) => s + (mapData[r * 3 + c] as number) * (p[c] as number), 0),
      ),
    );
    const lo = Math.min(...cam);
    const hi = Math.max(...cam);
    cam.forEach((v, r) => expect(heat.data[r]).toBeCloseTo((v - lo) / (hi - lo), 5));
  });

  it('follows a bright pixel through a LayersModel, using its pooling layer as the head', () => {
    const input = tfl.input({ shape: [8, 8, 1] });
    const map = tfl.layers
      .conv2d({
        filters: 2,
        kernelSize: 1,
        useBias: false,
        kernelInitializer: 'ones',
        activation: 'relu',
      })
      .apply(input) as tfl.SymbolicTensor;
    const pooled = tfl.layers.globalAveragePooling2d({}).apply(map) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: [map, pooled] });
    const extractor = fromLayersModel(model);
    const img = new Float32Array(64).fill(0.1);
    img[5 * 8 + 2] = 1;
    let heat: ReturnType<typeof saliencyMaps> | undefined;
    const leaked = leakedBy(() => {
      heat = saliencyMaps(extractor, img, { method: 'gradcam', shape: [1, 8, 8, 1] });
    });
    expect(leaked).toBe(0);
    expect(argmax(heat?.data ?? [], 0, 64)).toBe(5 * 8 + 2);
    const norm = saliencyMaps(extractor, img, { method: 'norm', shape: [1, 8, 8, 1] });
    expect(argmax(norm.data, 0, 64)).toBe(5 * 8 + 2);
    model.dispose();
  });

  it('gives zeros for a constant map, leaks nothing and names bad options', () => {
    const model = tinyModel();
    const extractor = fromLayersModel(model);
    const flat: FeatureExtractor = (images) => {
      const m = tf.ones([images.shape[0], 2, 2, 3]) as tf.Tensor4D;
      return { map: m, pooled: globalAveragePool(m) };
    };
    expect(Math.max(...saliencyMaps(flat, randomImages(1, 4, 1), { method: 'norm' }).data)).toBe(0);
    expect(
      leakedBy(() =>
        saliencyMaps(extractor, randomImages(3, 8, 2), { method: 'norm', batchSize: 2 }),
      ),
    ).toBe(0);
    expect(() =>
      saliencyMaps(extractor, randomImages(1, 8, 2), { method: 'cam' as 'norm' }),
    ).toThrow(/saliency method must be 'norm' or 'gradcam', got "cam"/);
    expect(() =>
      saliencyMaps(extractor, randomImages(1, 8, 2), { method: 'gradcam', target: 'x' as 'norm' }),
    ).toThrow(/target/);
    const bad: FeatureExtractor = (images) => ({
      map: tf.zeros([images.shape[0], 2, 2]) as unknown as tf.Tensor4D,
      pooled: tf.zeros([1, 1]) as tf.Tensor2D,
    });
    expect(() => saliencyMaps(bad, randomImages(1, 4, 1), { method: 'norm' })).toThrow(
      /extractor map must have rank 4/,
    );
    model.dispose();
  });
});
