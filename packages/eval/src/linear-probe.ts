/**
 * Linear evaluation of frozen features: softmax regression on the pooled features,
 * trained with tfjs's SGD with Nesterov momentum (`tf.train.momentum`), L2 weight decay
 * and a cosine schedule.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import {
  assertInRange,
  assertInteger,
  type FloatInput,
  readFloatReads,
  readLabels,
  Rng,
  runReads,
  runReadsAsync,
  type TensorReads,
} from '@ediy/core';
import { topkAccuracy, topkCorrect, type TopkAccuracy } from './accuracy.js';
import { channelStats, standardize } from './standardize.js';
import { applyDecayedGradients, cosineLearningRate, disposeMomentum } from './sgd.js';

/** Options of {@link linearProbe}. */
export interface LinearProbeOptions {
  /** Training features [n,C] (frozen, e.g. `extractFeatures(...).pooled`). */
  trainFeatures: FloatInput;
  /** One class id in [0, numClasses) per training row. */
  trainLabels: ArrayLike<number>;
  /** Test features [m,C]. */
  testFeatures: FloatInput;
  /** One class id per test row. */
  testLabels: ArrayLike<number>;
  /** Number of classes. */
  numClasses: number;
  /** Passes over the training set (default 100). */
  epochs?: number;
  /** Rows per SGD step (default 256). */
  batchSize?: number;
  /** Peak learning rate, decayed to 0 on a cosine over all steps (default 0.1). */
  learningRate?: number;
  /** Nesterov momentum (default 0.9). */
  momentum?: number;
  /** L2 weight decay on the weights, not the bias (default 1e-4). */
  weightDecay?: number;
  /** Standardise each channel with the training set's mean and std (default true). */
  standardize?: boolean;
  /** Seed of the shuffling (default 0). The same seed gives the same result. */
  seed?: number;
}

/** Result of {@link linearProbe}. */
export interface LinearProbeResult extends TopkAccuracy {
  /** Mean training cross-entropy of each epoch. */
  lossCurve: number[];
  /** 1 where a test row's top-1 prediction is its label, else 0 (for a bootstrap over test rows). */
  correct: Uint8Array;
}

function* probeReads(options: LinearProbeOptions): TensorReads<LinearProbeResult> {
  const { numClasses } = options;
  assertInteger(numClasses, 2, 'numClasses');
  const epochs = options.epochs ?? 100;
  const batchSize = options.batchSize ?? 256;
  const lr = options.learningRate ?? 0.1;
  const momentum = options.momentum ?? 0.9;
  const weightDecay = options.weightDecay ?? 1e-4;
  assertInteger(epochs, 1, 'epochs');
  assertInteger(batchSize, 1, 'batchSize');
  assertInRange(lr, 0, Infinity, 'learningRate');
  assertInRange(momentum, 0, 1, 'momentum');
  assertInRange(weightDecay, 0, Infinity, 'weightDecay');
  const train = yield* readFloatReads(options.trainFeatures, ['n', 'C'], 'trainFeatures');
  const test = yield* readFloatReads(
    options.testFeatures,
    ['m', train.dims.C as number],
    'testFeatures',
  );
  const n = train.dims.n as number;
  const m = test.dims.m as number;
  const C = train.dims.C as number;
  const yTrain = readLabels(options.trainLabels, n, numClasses, 'trainLabels');
  const yTest = readLabels(options.testLabels, m, numClasses, 'testLabels');
  let xTrainData = train.data;
  let xTestData = test.data;
  if (options.standardize ?? true) {
    const stats = channelStats(train.data, C);
    xTrainData = standardize(train.data, stats);
    xTestData = standardize(test.data, stats);
  }
  const rng = new Rng(options.seed ?? 0).fork('linear-probe');
  const xTrain = tf.tensor2d(xTrainData, [n, C]);
  const labels = tf.tensor1d(yTrain, 'int32');
  const W = tf.tidy(() => tf.variable(tf.zeros([C, numClasses])));
  const b = tf.tidy(() => tf.variable(tf.zeros([numClasses])));
  // tfjs's Nesterov momentum is PyTorch's form: v = mu v + g; w -= lr (g + mu v).
  const optimizer = tf.train.momentum(lr, momentum, true);
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const totalSteps = epochs * stepsPerEpoch;
  const lossCurve: number[] = [];
  const losses: tf.Tensor[] = [];
  try {
    let step = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = rng.permutation(n);
      const rows: number[] = [];
      for (let s = 0; s < stepsPerEpoch; s++) {
        const idx = order.subarray(s * batchSize, Math.min((s + 1) * batchSize, n));
        optimizer.setLearningRate(cosineLearningRate(lr, step, totalSteps));
        const loss = tf.tidy(() => {
          const ix = tf.tensor1d(idx, 'int32');
          const x = tf.gather(xTrain, ix);
          const onehot = tf.oneHot(tf.gather(labels, ix), numClasses);
          const { value, grads } = tf.variableGrads(
            () =>
              tf.neg(
                tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(tf.add(tf.matMul(x, W), b))), 1)),
              ) as tf.Scalar,
            [W, b],
          );
          // Coupled L2 weight decay on W (not the bias), as PyTorch's SGD weight_decay.
          applyDecayedGradients(optimizer, [
            { variable: W, gradient: grads[W.name] as tf.Tensor, weightDecay },
            { variable: b, gradient: grads[b.name] as tf.Tensor, weightDecay: 0 },
          ]);
          return value;
        });
        losses.push(loss);
        rows.push(idx.length);
        step++;
      }
      // one read of the epoch's losses, summed in step order as they were made
      const stacked = tf.stack(losses);
      tf.dispose(losses.splice(0));
      const [values] = (yield [stacked]) as [Float32Array];
      let lossSum = 0;
      rows.forEach((count, s) => (lossSum += (values[s] as number) * count));
      lossCurve.push(lossSum / n);
    }
    const scores = tf.tidy(() => tf.add(tf.matMul(tf.tensor2d(xTestData, [m, C]), W), b));
    const [scoreValues] = (yield [scores]) as [Float32Array];
    return {
      ...topkAccuracy(scoreValues, yTest, numClasses),
      correct: topkCorrect(scoreValues, yTest, numClasses),
      lossCurve,
    };
  } finally {
    tf.dispose([xTrain, labels, W, b, ...losses]);
    disposeMomentum(optimizer);
  }
}

/**
 * Fits softmax regression logits = x W + b (W, b zero-initialised) on frozen
 * training features by minimising the mean cross-entropy, then reports top-1/top-5
 * accuracy on the test features. Features are standardised per channel with the
 * training statistics (the same transform applied to the test set). Leaves no
 * tensors behind. Reads synchronously (once per epoch, the epoch's losses); on
 * tfjs-backend-webgpu in Node use {@link linearProbeAsync}.
 */
export function linearProbe(options: LinearProbeOptions): LinearProbeResult {
  return runReads(probeReads(options));
}

/**
 * {@link linearProbe} reading asynchronously (`await data()`): the same result and
 * errors (as a rejection), on every backend, webgpu in Node included.
 */
export function linearProbeAsync(options: LinearProbeOptions): Promise<LinearProbeResult> {
  return runReadsAsync(probeReads(options));
}
