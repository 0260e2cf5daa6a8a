import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import {
  applyDecayedGradients,
  cosineLearningRate,
  disposeMomentum,
  linearProbe,
} from '@ediy/eval';
import { leakedBy, randomTask, separable } from './helpers.js';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

describe('linearProbe', () => {
  it('is near-perfect on separable features, with a falling loss, and leaks nothing', () => {
    const train = separable(160, 8, 4, 1, 0.5);
    const test = separable(80, 8, 4, 2, 0.5);
    let res: ReturnType<typeof linearProbe> | undefined;
    const leaked = leakedBy(() => {
      res = linearProbe({
        trainFeatures: train.x,
        trainLabels: train.y,
        testFeatures: test.x,
        testLabels: test.y,
        numClasses: 4,
        epochs: 15,
        batchSize: 32,
      });
    });
    expect(leaked).toBe(0);
    expect(res?.top1).toBeGreaterThan(0.97);
    expect(res?.top5).toBe(1);
    expect(res?.lossCurve).toHaveLength(15);
    const curve = res?.lossCurve as number[];
    expect(curve[0]).toBeLessThan(Math.log(4) + 1e-6);
    expect(curve[14]).toBeLessThan((curve[0] as number) / 3);
  });

  it('is near chance on random labels and reproducible from its seed', () => {
    const train = randomTask(300, 8, 4, 3);
    const test = randomTask(300, 8, 4, 4);
    const opts = {
      trainFeatures: train.x,
      trainLabels: train.y,
      testFeatures: test.x,
      testLabels: test.y,
      numClasses: 4,
      epochs: 5,
      batchSize: 64,
      seed: 7,
    };
    const a = linearProbe(opts);
    const b = linearProbe(opts);
    const c = linearProbe({ ...opts, seed: 8 });
    expect(a.top1).toBeGreaterThan(0.15);
    expect(a.top1).toBeLessThan(0.37);
    expect(b).toEqual(a);
    expect(c.lossCurve).not.toEqual(a.lossCurve);
  });

  it('names bad options and labels', () => {
    const train = separable(20, 4, 2, 1);
    const opts = {
      trainFeatures: train.x,
      trainLabels: train.y,
      testFeatures: train.x,
      testLabels: train.y,
      numClasses: 2,
      epochs: 1,
    };
    expect(() => linearProbe({ ...opts, epochs: 0 })).toThrow(
      /epochs must be an integer >= 1, got 0/,
    );
    expect(() => linearProbe({ ...opts, learningRate: NaN })).toThrow(
      /learningRate must be a number/,
    );
    expect(() =>
      linearProbe({ ...opts, testLabels: [0.5, ...Array.from(train.y).slice(1)] }),
    ).toThrow(/testLabels must hold integer class ids in \[0, 1\], got 0.5 at index 0/);
    expect(() => linearProbe({ ...opts, numClasses: 1 })).toThrow(
      /numClasses must be an integer >= 2, got 1/,
    );
  });
});

describe('SGD and schedule', () => {
  it('follows the cosine schedule', () => {
    expect(cosineLearningRate(0.4, 0, 10)).toBeCloseTo(0.4, 12);
    expect(cosineLearningRate(0.4, 5, 10)).toBeCloseTo(0.2, 12);
    expect(cosineLearningRate(0.4, 10, 10)).toBeCloseTo(0, 12);
    expect(() => cosineLearningRate(0.4, 1, 0)).toThrow(/totalSteps >= 1/);
  });

  it("takes the probes' Nesterov step with weight decay (hand-computed), leaving nothing", () => {
    const before = tf.memory().numTensors;
    const w = tf.tidy(() => tf.variable(tf.tensor1d([1, -2])));
    const bias = tf.tidy(() => tf.variable(tf.tensor1d([3])));
    const optimizer = tf.train.momentum(0.1, 0.9, true);
    const g = tf.tensor1d([0.5, 0.5]);
    const gb = tf.tensor1d([1]);
    applyDecayedGradients(optimizer, [
      { variable: w, gradient: g, weightDecay: 0.1 },
      { variable: bias, gradient: gb },
    ]);
    // g' = g + 0.1 w = [0.6, 0.3]; v = g'; w -= 0.1 (g' + 0.9 v) = w - 0.1 * 1.9 g'.
    const values = w.dataSync();
    expect(values[0]).toBeCloseTo(1 - 0.19 * 0.6, 6);
    expect(values[1]).toBeCloseTo(-2 - 0.19 * 0.3, 6);
    expect(bias.dataSync()[0]).toBeCloseTo(3 - 0.19, 6); // no decay on the bias
    // a second step at another learning rate: v = 0.9 v + g'', w -= lr (g'' + 0.9 v)
    optimizer.setLearningRate(0.05);
    const w1 = Array.from(w.dataSync());
    applyDecayedGradients(optimizer, [{ variable: w, gradient: g, weightDecay: 0.1 }]);
    const g2 = w1.map((x) => 0.5 + 0.1 * x);
    const v2 = [0.6, 0.3].map((v, i) => 0.9 * v + (g2[i] as number));
    Array.from(w.dataSync()).forEach((x, i) =>
      expect(x).toBeCloseTo(
        (w1[i] as number) - 0.05 * ((g2[i] as number) + 0.9 * (v2[i] as number)),
        6,
      ),
    );
    expect(() => applyDecayedGradients({} as tf.Optimizer, [])).toThrow(
      /optimizer must be a tf.Optimizer/,
    );
    tf.dispose([w, bias, g, gb]);
    disposeMomentum(optimizer);
    expect(tf.memory().numTensors).toBe(before);
  });
});
