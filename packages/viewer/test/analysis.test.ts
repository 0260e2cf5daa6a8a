/**
 * What the page computes, in Node: the views are the trainer's (same boxes, same pixels
 * once normalised), similarities by hand, the weight file's checks, and no tensor left
 * behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { IMAGENET_NORMALIZE, byolViewParams, byolViews, normalizeImages } from '@ediy/augment';
import { resnet } from '@ediy/backbones';
import { writeSafetensors, type SafeTensor } from '@ediy/backbones/interop';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import {
  disposeViews,
  drawViews,
  loadBackbone,
  regionMapTensors,
  regionPairs,
  regionSimilarities,
  type ViewerWeights,
} from '@ediy/viewer';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

const BACKBONE = { depth: 18, stem: 'small', widthMultiplier: 1 / 16 } as const;

it("draws the trainer's two views: same boxes, flips and (normalised) pixels", () => {
  const image = tf.randomUniform([1, 40, 40, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const views = drawViews(image, 11, 32);
  const [t1, t2] = byolViews(image, new Rng(11), byolViewParams(32, { scaleBlurSigma: true }));
  expect(views.boxes).toEqual([t1.boxes[0], t2.boxes[0]]);
  expect(views.flipped).toEqual([t1.flipped[0], t2.flipped[0]]);
  [t1, t2].forEach((t, v) => {
    const mine = normalizeImages(views.pixels[v] as tf.Tensor4D, IMAGENET_NORMALIZE);
    expect(tf.max(tf.abs(tf.sub(mine, t.images))).dataSync()[0]).toBe(0);
    mine.dispose();
  });
  tf.dispose([image, t1.images, t2.images]);
  disposeViews(views);
  expect(() => drawViews(image, -1, 32)).toThrow('seed must be an integer >= 0, got -1');
});

it('computes pairs and maps without leaving a tensor behind', () => {
  const model = resnet({ ...BACKBONE, name: 'leak', seed: 0 });
  const image = tf.randomUniform([1, 40, 40, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  for (let k = 0; k < 3; k++) {
    const views = drawViews(image, k, 32);
    const maps = regionMapTensors(model, views);
    const pairs = regionPairs(maps);
    expect(pairs.rDem[0]).toHaveLength(16);
    // R-DEM never pairs a region with itself
    pairs.rDem.forEach((p) => p.forEach((d, j) => expect(d).not.toBe(j)));
    tf.dispose(maps);
    disposeViews(views);
  }
  expect(tf.memory().numTensors).toBe(before);
  image.dispose();
  model.dispose();
});

it('gives the cosine of a region with every region of both views (by hand)', () => {
  // 1x2 grids of 2 channels: view 1 regions (1,0), (0,1); view 2 regions (1,1), (-2,0)
  const maps = [
    { data: Float32Array.of(1, 0, 0, 1), h: 1, w: 2, c: 2 },
    { data: Float32Array.of(1, 1, -2, 0), h: 1, w: 2, c: 2 },
  ] as const;
  const [a, b] = regionSimilarities(maps, 0, 0);
  expect(Array.from(a)).toEqual([1, 0]);
  expect(b[0]).toBeCloseTo(Math.SQRT1_2, 6);
  expect(b[1]).toBeCloseTo(-1, 6);
  expect(() => regionSimilarities(maps, 0, 2)).toThrow(
    'region must be an integer in [0, 2), got 2',
  );
});

it('loads a weight file into the backbone, and names a file that does not fit', () => {
  const source = resnet({ ...BACKBONE, name: 'src', seed: 5 });
  const tensors = new Map<string, SafeTensor>();
  source.getWeights().forEach((w, i) =>
    tensors.set(String(i), {
      dtype: 'F32',
      shape: w.shape.slice(),
      data: w.dataSync() as Float32Array,
    }),
  );
  const weights: ViewerWeights = {
    url: 'runs/0/backbone.safetensors',
    count: tensors.size,
    backbone: BACKBONE,
    step: 1,
    checkpoint: 'c',
  };
  const loaded = loadBackbone(writeSafetensors(tensors), weights, 'loaded');
  // frozen (as loadBackbone leaves it), a model lists its weights layer by layer
  source.trainable = false;
  loaded
    .getWeights()
    .forEach((w, i) => expect(w.dataSync()).toEqual(source.getWeights()[i]?.dataSync()));
  tensors.delete(String(tensors.size - 1));
  expect(() => loadBackbone(writeSafetensors(tensors), weights, 'short')).toThrow(
    `runs/0/backbone.safetensors: expected ${weights.count} tensors for a ResNet-18 (the model has ${weights.count}), the file has ${weights.count - 1}`,
  );
  source.dispose();
  loaded.dispose();
});
