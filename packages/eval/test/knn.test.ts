import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { knnClassifier, knnEvaluate, topkAccuracy } from '@ediy/eval';
import { leakedBy, randomTask, separable } from './helpers.js';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

describe('knnClassifier', () => {
  it('votes exp((cos - 1) / T) over the k nearest training rows (hand-computed)', () => {
    // Train rows at angles 0, 90, 180 degrees (labels 0, 1, 1) and one at 45 degrees (label 0).
    const s = Math.SQRT1_2;
    const clf = knnClassifier({
      trainFeatures: { data: Float32Array.from([2, 0, 0, 3, -1, 0, s, s]), shape: [4, 2] },
      trainLabels: [0, 1, 1, 0],
      numClasses: 2,
      k: 2,
      temperature: 0.5,
    });
    // Query along (1, 0): cosines 1, 0, -1, s; the 2 nearest are rows 0 and 3 (both class 0).
    // Query along (0, 1): cosines 0, 1, 0, s; nearest rows 1 (class 1) and 3 (class 0).
    const out = clf.scores({ data: Float32Array.from([5, 0, 0, 0.5]), shape: [2, 2] });
    clf.dispose();
    expect(out.shape).toEqual([2, 2]);
    const vote = (cos: number): number => Math.exp((cos - 1) / 0.5);
    expect(out.data[0]).toBeCloseTo(vote(1) + vote(s), 6);
    expect(out.data[1]).toBe(0);
    expect(out.data[2]).toBeCloseTo(vote(s), 6);
    expect(out.data[3]).toBeCloseTo(vote(1), 6);
  });

  it('does not overflow at a tiny temperature', () => {
    const { x, y } = separable(30, 4, 3, 2);
    const clf = knnClassifier({
      trainFeatures: x,
      trainLabels: y,
      numClasses: 3,
      k: 5,
      temperature: 1e-4,
    });
    const out = clf.scores(x);
    clf.dispose();
    expect(out.data.every((v) => Number.isFinite(v))).toBe(true);
    expect(Math.max(...out.data)).toBeGreaterThan(0.99);
  });

  it('throws after dispose and on bad options', () => {
    const { x, y } = separable(10, 4, 2, 1);
    const clf = knnClassifier({ trainFeatures: x, trainLabels: y, numClasses: 2, k: 3 });
    clf.dispose();
    expect(() => clf.scores(x)).toThrow(/disposed/);
    expect(() => knnClassifier({ trainFeatures: x, trainLabels: y, numClasses: 2, k: 11 })).toThrow(
      /k must be at most the number of training features \(10\), got 11/,
    );
    expect(() =>
      knnClassifier({ trainFeatures: x, trainLabels: y, numClasses: 2, temperature: 0 }),
    ).toThrow(/temperature/);
    expect(() =>
      knnClassifier({ trainFeatures: x, trainLabels: Array.from(y).slice(1), numClasses: 2, k: 3 }),
    ).toThrow(/trainLabels must have one label per feature row \(10\), got 9/);
    const bad = Array.from(y);
    bad[4] = 2;
    expect(() =>
      knnClassifier({ trainFeatures: x, trainLabels: bad, numClasses: 2, k: 3 }),
    ).toThrow(/trainLabels must hold integer class ids in \[0, 1\], got 2 at index 4/);
  });
});

describe('knnEvaluate', () => {
  it('is near-perfect on separable features and near chance on random labels', () => {
    const train = separable(200, 8, 4, 1);
    const test = separable(100, 8, 4, 2);
    const good = knnEvaluate({
      trainFeatures: train.x,
      trainLabels: train.y,
      testFeatures: test.x,
      testLabels: test.y,
      numClasses: 4,
    });
    expect(good.top1).toBeGreaterThan(0.97);
    expect(good.top5).toBe(1);
    const rtrain = randomTask(400, 8, 4, 3);
    const rtest = randomTask(400, 8, 4, 4);
    const chance = knnEvaluate({
      trainFeatures: rtrain.x,
      trainLabels: rtrain.y,
      testFeatures: rtest.x,
      testLabels: rtest.y,
      numClasses: 4,
    });
    expect(chance.top1).toBeGreaterThan(0.15);
    expect(chance.top1).toBeLessThan(0.35);
  });

  it('accepts tensors, leaves them alone and leaks nothing', () => {
    const train = separable(50, 4, 2, 5);
    const trainT = tf.tensor2d(train.x.data, [50, 4]);
    let acc = { top1: 0, top5: 0 };
    const leaked = leakedBy(() => {
      acc = knnEvaluate({
        trainFeatures: trainT,
        trainLabels: train.y,
        testFeatures: trainT,
        testLabels: train.y,
        numClasses: 2,
        k: 5,
        batchSize: 7,
      });
    });
    expect(leaked).toBe(0);
    expect(trainT.isDisposed).toBe(false);
    expect(acc.top1).toBeGreaterThan(0.95);
    trainT.dispose();
  });

  it('names mismatched feature sizes and NaN', () => {
    const train = separable(20, 4, 2, 1);
    const test = separable(5, 3, 2, 1);
    const opts = {
      trainFeatures: train.x,
      trainLabels: train.y,
      testFeatures: test.x,
      testLabels: test.y,
      numClasses: 2,
      k: 3,
    };
    expect(() => knnEvaluate(opts)).toThrow(/testFeatures must have shape \[m,4\], got \[5,3\]/);
    const nan = Float32Array.from(train.x.data);
    nan[7] = NaN;
    expect(() => knnEvaluate({ ...opts, trainFeatures: { data: nan, shape: [20, 4] } })).toThrow(
      /trainFeatures must hold finite values, got NaN at flat index 7/,
    );
  });
});

describe('topkAccuracy', () => {
  it('counts top-1 and top-5 with ties going to the lower class id', () => {
    // 6 classes; sample 0: label 2 ranked first; sample 1: label 5 ranked 6th; sample 2: tie 0/1, label 1.
    const scores = [0, 1, 9, 3, 2, 4, 6, 5, 4, 3, 2, 1, 7, 7, 0, 0, 0, 0];
    const acc = topkAccuracy(scores, [2, 5, 1], 6);
    expect(acc.top1).toBeCloseTo(1 / 3, 10);
    expect(acc.top5).toBeCloseTo(2 / 3, 10);
    expect(topkAccuracy([0.2, 0.8], [0], 2)).toEqual({ top1: 0, top5: 1 });
  });
});
