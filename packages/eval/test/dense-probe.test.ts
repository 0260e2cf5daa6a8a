import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { bilinearMatrix, denseProbe, segmentationMetrics, upsampleBilinear } from '@ediy/eval';
import { leakedBy, regionTask } from './helpers.js';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

describe('upsampleBilinear', () => {
  it('builds half-pixel interpolation weights (hand-computed)', () => {
    // 2 -> 4: samples at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    expect(Array.from(bilinearMatrix(4, 2))).toEqual([1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]);
    expect(Array.from(bilinearMatrix(1, 1))).toEqual([1]);
  });

  it('matches tf.image.resizeBilinear with half-pixel centres', () => {
    const rng = new Rng(1);
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * 3 * 4 * 2 }, () => rng.normal()),
      [2, 3, 4, 2],
    );
    for (const size of [
      [5, 7],
      [6, 8],
      [3, 4],
      [2, 2],
    ] as [number, number][]) {
      const mine = upsampleBilinear(x, size);
      const ref = tf.image.resizeBilinear(x, size, false, true);
      expect(mine.shape).toEqual(ref.shape);
      const a = mine.dataSync();
      const b = ref.dataSync();
      a.forEach((v, i) => expect(v).toBeCloseTo(b[i] as number, 5));
      tf.dispose([mine, ref]);
    }
    x.dispose();
  });

  it('has the adjoint as gradient: d sum(up(x) * g) / dx = Ry^T g Rx', () => {
    const x = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
    const g = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [1, 4, 4, 1]);
    const grad = tf.grad((t: tf.Tensor) =>
      tf.sum(tf.mul(upsampleBilinear(t as tf.Tensor4D, [4, 4]), g)),
    )(x);
    const r = bilinearMatrix(4, 2);
    const gd = g.dataSync();
    const want = [0, 0, 0, 0];
    for (let y = 0; y < 2; y++)
      for (let xx = 0; xx < 2; xx++)
        for (let Y = 0; Y < 4; Y++)
          for (let X = 0; X < 4; X++)
            want[y * 2 + xx]! +=
              (r[Y * 2 + y] as number) * (r[X * 2 + xx] as number) * (gd[Y * 4 + X] as number);
    Array.from(grad.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i] as number, 4));
    tf.dispose([x, g, grad]);
  });
});

describe('segmentationMetrics', () => {
  it('computes IoU, mIoU over present classes and pixel accuracy (hand-computed)', () => {
    const m = segmentationMetrics([5, 1, 0, 2, 3, 0, 0, 0, 0], 3);
    expect(m.perClassIoU[0]).toBeCloseTo(5 / 8, 12);
    expect(m.perClassIoU[1]).toBeCloseTo(3 / 6, 12);
    expect(m.perClassIoU[2]).toBeNaN();
    expect(m.mIoU).toBeCloseTo((5 / 8 + 1 / 2) / 2, 12);
    expect(m.pixelAccuracy).toBeCloseTo(8 / 11, 12);
    expect(() => segmentationMetrics([0, 0, 0, 0], 2)).toThrow(/at least one labelled/);
  });
});

describe('denseProbe', () => {
  it('is near-perfect when the map encodes the class, and leaks nothing', () => {
    const train = regionTask(12, 3, 3, 3, 1);
    const test = regionTask(6, 3, 3, 3, 2);
    let res: ReturnType<typeof denseProbe> | undefined;
    const leaked = leakedBy(() => {
      res = denseProbe({
        trainMaps: train.maps,
        trainMasks: train.masks,
        testMaps: test.maps,
        testMasks: test.masks,
        numClasses: 3,
        epochs: 15,
        batchSize: 4,
      });
    });
    expect(leaked).toBe(0);
    expect(res?.pixelAccuracy).toBeGreaterThan(0.97);
    expect(res?.mIoU).toBeGreaterThan(0.93);
    expect(res?.perClassIoU).toHaveLength(3);
    const curve = res?.lossCurve as number[];
    expect(curve[curve.length - 1]).toBeLessThan((curve[0] as number) / 2);
  });

  it('is poor when the masks carry no information about the maps', () => {
    const train = regionTask(12, 3, 3, 3, 1);
    const test = regionTask(6, 3, 3, 3, 2);
    const shuffled = regionTask(6, 3, 3, 3, 99).masks; // labels of another draw
    const res = denseProbe({
      trainMaps: train.maps,
      trainMasks: train.masks,
      testMaps: test.maps,
      testMasks: shuffled,
      numClasses: 3,
      epochs: 5,
    });
    expect(res.pixelAccuracy).toBeLessThan(0.6);
  });

  it('leaves ignored pixels out of the loss and the metrics', () => {
    const train = regionTask(8, 2, 2, 2, 3);
    const test = regionTask(4, 2, 2, 2, 4);
    const masks = Int32Array.from(test.masks.data);
    const wrong = Int32Array.from(masks, (v) => 1 - v); // every label wrong...
    for (let i = 0; i < wrong.length; i++) if (i % 4 !== 0) wrong[i] = 255; // ...but 3/4 ignored
    const opts = {
      trainMaps: train.maps,
      trainMasks: train.masks,
      testMaps: test.maps,
      numClasses: 2,
      epochs: 10,
      ignoreLabel: 255,
    };
    const right = denseProbe({ ...opts, testMasks: test.masks });
    const res = denseProbe({ ...opts, testMasks: { data: wrong, shape: test.masks.shape } });
    expect(right.pixelAccuracy).toBeGreaterThan(0.95);
    expect(res.pixelAccuracy).toBeLessThan(0.1);
  });

  it('names bad shapes and labels', () => {
    const t = regionTask(2, 2, 2, 2, 1);
    const opts = {
      trainMaps: t.maps,
      trainMasks: t.masks,
      testMaps: t.maps,
      testMasks: t.masks,
      numClasses: 2,
      epochs: 1,
    };
    expect(() =>
      denseProbe({ ...opts, testMasks: { data: new Int32Array(2 * 16), shape: [2, 4, 4, 1] } }),
    ).toThrow(/testMasks must have rank 3/);
    expect(() =>
      denseProbe({ ...opts, trainMasks: { data: new Int32Array(3 * 16), shape: [3, 4, 4] } }),
    ).toThrow(/trainMasks must have shape \[2,H,W\], got \[3,4,4\]/);
    const bad = Int32Array.from(t.masks.data);
    bad[5] = 2;
    expect(() => denseProbe({ ...opts, trainMasks: { data: bad, shape: t.masks.shape } })).toThrow(
      /trainMasks must hold integer class ids in \[0, 1\], got 2 at index 5/,
    );
    expect(() => denseProbe({ ...opts, ignoreLabel: 1 })).toThrow(
      /ignoreLabel must not be a class id/,
    );
    expect(() =>
      denseProbe({ ...opts, testMaps: { data: new Float32Array(2 * 4 * 5), shape: [2, 2, 2, 5] } }),
    ).toThrow(/testMaps must have shape \[n,h,w,3\]/);
  });
});
