/**
 * Dense (segmentation) linear probe of a frozen layer4 map: a linear classifier on
 * every region (a 1x1 convolution), logits upsampled bilinearly to the mask size,
 * trained with per-pixel cross-entropy; reports mIoU and pixel accuracy.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import {
  assertInRange,
  assertInteger,
  type FloatInput,
  type MaskInput,
  readFloatReads,
  readMaskReads,
  Rng,
  runReads,
  runReadsAsync,
  type TensorReads,
} from '@ediy/core';
import { channelStats, standardize } from './standardize.js';
import { applyDecayedGradients, cosineLearningRate, disposeMomentum } from './sgd.js';
import { upsampleBilinear } from './upsample.js';

/** Options of {@link denseProbe}. */
export interface DenseProbeOptions {
  /** Frozen training maps [n,h,w,C] (e.g. `extractFeatures(..., { maps: true }).maps`). */
  trainMaps: FloatInput;
  /** Per-pixel class ids of the training images, int32 [n,H,W]; class 0 is background. */
  trainMasks: MaskInput;
  /** Frozen test maps [m,h',w',C]. */
  testMaps: FloatInput;
  /** Per-pixel class ids of the test images, int32 [m,H',W']. */
  testMasks: MaskInput;
  /** Number of classes including background: K foreground classes give K + 1. */
  numClasses: number;
  /** A mask value to leave out of the loss and the metrics (e.g. 255), default none. */
  ignoreLabel?: number;
  /** Passes over the training images (default 20). */
  epochs?: number;
  /** Images per SGD step (default 8). */
  batchSize?: number;
  /** Peak learning rate, cosine-decayed to 0 (default 0.1). */
  learningRate?: number;
  /** Nesterov momentum (default 0.9). */
  momentum?: number;
  /** L2 weight decay on the 1x1 kernel, not the bias (default 1e-4). */
  weightDecay?: number;
  /** Standardise each channel with the training maps' statistics (default true). */
  standardize?: boolean;
  /** Seed of the shuffling (default 0). */
  seed?: number;
}

/** Segmentation scores, from {@link segmentationMetrics}. */
export interface SegmentationMetrics {
  /** Mean IoU over the classes present in the union of prediction and ground truth. */
  mIoU: number;
  /** Fraction of (non-ignored) test pixels classified correctly. */
  pixelAccuracy: number;
  /** IoU = TP / (TP + FP + FN) per class; NaN for a class neither predicted nor present. */
  perClassIoU: number[];
}

/** Result of {@link denseProbe}. */
export interface DenseProbeResult extends SegmentationMetrics {
  /** Mean training cross-entropy per pixel, per epoch. */
  lossCurve: number[];
}

interface Split {
  maps: Float32Array;
  masks: Int32Array;
  n: number;
  h: number;
  w: number;
  H: number;
  W: number;
}

function* readSplit(
  maps: FloatInput,
  masks: MaskInput,
  C: number | undefined,
  numClasses: number,
  which: string,
  ignore?: number,
): TensorReads<Split & { C: number }> {
  const f = yield* readFloatReads(maps, ['n', 'h', 'w', C ?? 'C'], `${which}Maps`);
  const n = f.dims.n as number;
  const mk = yield* readMaskReads(masks, [n, 'H', 'W'], numClasses, `${which}Masks`, {}, ignore);
  return {
    maps: f.data,
    masks: mk.data,
    n,
    h: f.dims.h as number,
    w: f.dims.w as number,
    C: C ?? (f.dims.C as number),
    H: mk.dims.H as number,
    W: mk.dims.W as number,
  };
}

/** Per-pixel logits [B,H,W,K] of maps [B,h,w,C] under the 1x1 classifier (W, b). */
function logits(
  x: tf.Tensor4D,
  kernel: tf.Tensor,
  bias: tf.Tensor,
  size: [number, number],
): tf.Tensor4D {
  const [B, h, w, C] = x.shape;
  const K = bias.shape[0] as number;
  const regionLogits = tf.add(tf.matMul(tf.reshape(x, [B * h * w, C]), kernel), bias);
  return upsampleBilinear(tf.reshape(regionLogits, [B, h, w, K]), size);
}

function* probeReads(options: DenseProbeOptions): TensorReads<DenseProbeResult> {
  const { numClasses, ignoreLabel } = options;
  assertInteger(numClasses, 2, 'numClasses');
  if (
    ignoreLabel !== undefined &&
    Number.isInteger(ignoreLabel) &&
    ignoreLabel >= 0 &&
    ignoreLabel < numClasses
  ) {
    throw new RangeError(
      `ignoreLabel must not be a class id in [0, ${numClasses - 1}], got ${ignoreLabel}`,
    );
  }
  const epochs = options.epochs ?? 20;
  const batchSize = options.batchSize ?? 8;
  const lr = options.learningRate ?? 0.1;
  const momentum = options.momentum ?? 0.9;
  const weightDecay = options.weightDecay ?? 1e-4;
  assertInteger(epochs, 1, 'epochs');
  assertInteger(batchSize, 1, 'batchSize');
  assertInRange(lr, 0, Infinity, 'learningRate');
  assertInRange(momentum, 0, 1, 'momentum');
  assertInRange(weightDecay, 0, Infinity, 'weightDecay');
  const train = yield* readSplit(
    options.trainMaps,
    options.trainMasks,
    undefined,
    numClasses,
    'train',
    ignoreLabel,
  );
  const C = train.C;
  const test = yield* readSplit(
    options.testMaps,
    options.testMasks,
    C,
    numClasses,
    'test',
    ignoreLabel,
  );
  if (options.standardize ?? true) {
    const stats = channelStats(train.maps, C);
    train.maps = standardize(train.maps, stats);
    test.maps = standardize(test.maps, stats);
  }
  const rng = new Rng(options.seed ?? 0).fork('dense-probe');
  const kernel = tf.tidy(() => tf.variable(tf.zeros([C, numClasses])));
  const bias = tf.tidy(() => tf.variable(tf.zeros([numClasses])));
  // tfjs's Nesterov momentum is PyTorch's form: v = mu v + g; w -= lr (g + mu v).
  const optimizer = tf.train.momentum(lr, momentum, true);
  const mapSize = train.h * train.w * C;
  const maskSize = train.H * train.W;
  const stepsPerEpoch = Math.ceil(train.n / batchSize);
  const totalSteps = epochs * stepsPerEpoch;
  const lossCurve: number[] = [];
  const losses: tf.Tensor[] = [];
  try {
    let step = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = rng.permutation(train.n);
      const counts: number[] = [];
      for (let s = 0; s < stepsPerEpoch; s++) {
        const idx = order.subarray(s * batchSize, Math.min((s + 1) * batchSize, train.n));
        const B = idx.length;
        const xb = new Float32Array(B * mapSize);
        const yb = new Int32Array(B * maskSize);
        const valid = new Float32Array(B * maskSize);
        let count = 0;
        idx.forEach((img, j) => {
          xb.set(train.maps.subarray(img * mapSize, (img + 1) * mapSize), j * mapSize);
          for (let p = 0; p < maskSize; p++) {
            const label = train.masks[img * maskSize + p] as number;
            const ok = label !== ignoreLabel;
            yb[j * maskSize + p] = ok ? label : 0;
            valid[j * maskSize + p] = ok ? 1 : 0;
            if (ok) count++;
          }
        });
        const rate = cosineLearningRate(lr, step, totalSteps);
        step++;
        if (count === 0) continue;
        optimizer.setLearningRate(rate);
        const loss = tf.tidy(() => {
          const x = tf.tensor4d(xb, [B, train.h, train.w, C]);
          const onehot = tf.oneHot(tf.tensor3d(yb, [B, train.H, train.W], 'int32'), numClasses);
          const weight = tf.tensor3d(valid, [B, train.H, train.W]);
          const { value, grads } = tf.valueAndGrads((k: tf.Tensor, b: tf.Tensor) => {
            const logp = tf.logSoftmax(logits(x, k, b, [train.H, train.W]));
            return tf.div(tf.neg(tf.sum(tf.mul(tf.sum(tf.mul(onehot, logp), -1), weight))), count);
          })([kernel, bias]);
          // Coupled L2 weight decay on the kernel (not the bias), as PyTorch's SGD weight_decay.
          applyDecayedGradients(optimizer, [
            {
              variable: kernel,
              gradient: grads[0] as tf.Tensor,
              ...(weightDecay > 0 ? { weightDecay } : {}),
            },
            { variable: bias, gradient: grads[1] as tf.Tensor },
          ]);
          return value;
        });
        losses.push(loss);
        counts.push(count);
      }
      let lossSum = 0;
      let pixels = 0;
      if (losses.length > 0) {
        // one read of the epoch's losses, summed in step order as they were made
        const stacked = tf.stack(losses);
        tf.dispose(losses.splice(0));
        const [values] = (yield [stacked]) as [Float32Array];
        counts.forEach((count, s) => {
          lossSum += (values[s] as number) * count;
          pixels += count;
        });
      }
      lossCurve.push(pixels > 0 ? lossSum / pixels : NaN);
    }
    return yield* scoreSegmentation(
      test,
      C,
      kernel,
      bias,
      numClasses,
      batchSize,
      ignoreLabel,
      lossCurve,
    );
  } finally {
    tf.dispose([kernel, bias, ...losses]);
    disposeMomentum(optimizer);
  }
}

/**
 * Trains a per-region linear classifier (a 1x1 convolution, written as a MatMul) on
 * frozen maps, with logits upsampled bilinearly (half-pixel centres) to the mask size
 * and a per-pixel softmax cross-entropy averaged over non-ignored pixels, by tfjs's
 * Nesterov SGD (`tf.train.momentum`) with coupled weight decay and a cosine schedule;
 * then segments the test maps by per-pixel argmax and scores them. mIoU averages the IoU
 * of the classes that occur in the prediction or the ground truth of the test set.
 * Only MatMul-based ops are differentiated, so it trains on wasm and cpu alike.
 * Leaves no tensors behind. Reads synchronously (the losses once per epoch, the
 * predictions once per test batch); on tfjs-backend-webgpu in Node use
 * {@link denseProbeAsync}.
 */
export function denseProbe(options: DenseProbeOptions): DenseProbeResult {
  return runReads(probeReads(options));
}

/**
 * {@link denseProbe} reading asynchronously (`await data()`): the same result and errors
 * (as a rejection), on every backend, webgpu in Node included.
 */
export function denseProbeAsync(options: DenseProbeOptions): Promise<DenseProbeResult> {
  return runReadsAsync(probeReads(options));
}

function* scoreSegmentation(
  test: Split,
  C: number,
  kernel: tf.Tensor,
  bias: tf.Tensor,
  numClasses: number,
  batchSize: number,
  ignoreLabel: number | undefined,
  lossCurve: number[],
): TensorReads<DenseProbeResult> {
  const confusion = new Float64Array(numClasses * numClasses); // [truth, predicted]
  const mapSize = test.h * test.w * C;
  const maskSize = test.H * test.W;
  for (let start = 0; start < test.n; start += batchSize) {
    const B = Math.min(batchSize, test.n - start);
    const predicted = tf.tidy(() => {
      const x = tf.tensor4d(test.maps.subarray(start * mapSize, (start + B) * mapSize), [
        B,
        test.h,
        test.w,
        C,
      ]);
      return tf.argMax(logits(x, kernel, bias, [test.H, test.W]), -1);
    });
    const [pred] = (yield [predicted]) as [Int32Array];
    for (let p = 0; p < B * maskSize; p++) {
      const truth = test.masks[start * maskSize + p] as number;
      if (truth === ignoreLabel) continue;
      const cell = truth * numClasses + (pred[p] as number);
      confusion[cell] = (confusion[cell] as number) + 1;
    }
  }
  return { ...segmentationMetrics(confusion, numClasses), lossCurve };
}

/**
 * mIoU, pixel accuracy and per-class IoU of a confusion matrix [truth, predicted]
 * (row-major, numClasses x numClasses). IoU_c = TP / (TP + FP + FN); a class with
 * TP + FP + FN = 0 gets NaN and is left out of the mean.
 */
export function segmentationMetrics(
  confusion: ArrayLike<number>,
  numClasses: number,
): SegmentationMetrics {
  if (confusion.length !== numClasses * numClasses) {
    throw new Error(
      `confusion must have ${numClasses}x${numClasses} entries, got ${confusion.length}`,
    );
  }
  const perClassIoU: number[] = [];
  let correct = 0;
  let total = 0;
  let iouSum = 0;
  let present = 0;
  for (let c = 0; c < numClasses; c++) {
    const tp = confusion[c * numClasses + c] as number;
    let rowSum = 0;
    let colSum = 0;
    for (let o = 0; o < numClasses; o++) {
      rowSum += confusion[c * numClasses + o] as number;
      colSum += confusion[o * numClasses + c] as number;
    }
    correct += tp;
    total += rowSum;
    const union = rowSum + colSum - tp;
    if (union > 0) {
      perClassIoU.push(tp / union);
      iouSum += tp / union;
      present++;
    } else {
      perClassIoU.push(NaN);
    }
  }
  if (total === 0)
    throw new Error('segmentation metrics need at least one labelled (non-ignored) pixel');
  return { mIoU: iouSum / present, pixelAccuracy: correct / total, perClassIoU };
}
