/**
 * Weighted k-nearest-neighbour classification of frozen features (the protocol of
 * InstDisc, Wu et al. 2018, used by DINO): cosine similarity, the k most similar
 * training features vote for their class with weight exp(sim / T).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertInRange,
  assertInteger,
  type FloatInput,
  type HostArray,
  readFloatReads,
  readLabels,
  runReads,
  runReadsAsync,
  type TensorReads,
} from '@ediy/core';
import { topkAccuracy, topkCorrect, type TopkAccuracy } from './accuracy.js';

/** Options of {@link knnClassifier}. */
export interface KnnClassifierOptions {
  /** Training (memory bank) features [n,C]. */
  trainFeatures: FloatInput;
  /** One class id in [0, numClasses) per training row. */
  trainLabels: ArrayLike<number>;
  /** Number of classes. */
  numClasses: number;
  /** Neighbours that vote (default 20); at most the number of training rows. */
  k?: number;
  /** Vote temperature T in exp(sim / T) (default 0.07). */
  temperature?: number;
  /** Query rows per similarity matmul (default 256). */
  batchSize?: number;
}

/** A kNN classifier holding L2-normalised training features on the backend. */
export interface KnnClassifier {
  /**
   * Class votes [m, numClasses] for queries [m,C]: score_c = sum over the k most
   * cosine-similar training rows i with label c of exp((cos(q, x_i) - 1) / T), i.e.
   * InstDisc's exp(cos / T) times the common factor exp(-1 / T), which leaves the
   * ranking unchanged and cannot overflow for small T.
   */
  scores(features: FloatInput): HostArray;
  /**
   * {@link KnnClassifier.scores} reading asynchronously (`await data()`): the same votes,
   * on every backend, webgpu in Node included.
   */
  scoresAsync(features: FloatInput): Promise<HostArray>;
  /** Frees the training features held on the backend. */
  dispose(): void;
}

function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12)));
}

/** The classifier with its votes as reads, for {@link knnClassifier} and {@link knnEvaluate}. */
interface KnnReads extends KnnClassifier {
  scoreReads(features: FloatInput): TensorReads<HostArray>;
}

function* classifierReads(options: KnnClassifierOptions): TensorReads<KnnReads> {
  const { numClasses } = options;
  assertInteger(numClasses, 1, 'numClasses');
  const k = options.k ?? 20;
  const temperature = options.temperature ?? 0.07;
  const batchSize = options.batchSize ?? 256;
  assertInRange(temperature, Number.MIN_VALUE, Infinity, 'temperature');
  assertInteger(batchSize, 1, 'batchSize');
  const train = yield* readFloatReads(options.trainFeatures, ['n', 'C'], 'trainFeatures');
  const n = train.dims.n as number;
  const C = train.dims.C as number;
  assertInteger(k, 1, 'k');
  if (k > n)
    throw new RangeError(`k must be at most the number of training features (${n}), got ${k}`);
  const labels = readLabels(options.trainLabels, n, numClasses, 'trainLabels');
  const bank = tf.tidy(() => tf.transpose(l2Normalize(tf.tensor2d(train.data, [n, C]))));
  let disposed = false;
  function* scoreReads(features: FloatInput): TensorReads<HostArray> {
    if (disposed) throw new Error('knnClassifier was disposed');
    const q = yield* readFloatReads(features, ['m', C], 'testFeatures');
    const m = q.dims.m as number;
    const out = new Float32Array(m * numClasses);
    for (let start = 0; start < m; start += batchSize) {
      const size = Math.min(batchSize, m - start);
      const top = tf.tidy(() => {
        const qb = l2Normalize(
          tf.tensor2d(q.data.subarray(start * C, (start + size) * C), [size, C]),
        );
        const { values, indices } = tf.topk(tf.matMul(qb, bank), k, true);
        return [values, indices];
      });
      const [vals, idx] = (yield top) as [Float32Array, Int32Array];
      for (let r = 0; r < size; r++) {
        const row = (start + r) * numClasses;
        for (let j = 0; j < k; j++) {
          const cls = labels[idx[r * k + j] as number] as number;
          out[row + cls] =
            (out[row + cls] as number) + Math.exp(((vals[r * k + j] as number) - 1) / temperature);
        }
      }
    }
    return { data: out, shape: [m, numClasses] };
  }
  return {
    scoreReads,
    scores: (features) => runReads(scoreReads(features)),
    scoresAsync: (features) => runReadsAsync(scoreReads(features)),
    dispose() {
      if (!disposed) bank.dispose();
      disposed = true;
    },
  };
}

function publicClassifier({ scores, scoresAsync, dispose }: KnnReads): KnnClassifier {
  return { scores, scoresAsync, dispose };
}

/**
 * Builds a weighted kNN classifier (cosine similarity, k = 20, T = 0.07 by default).
 * The classifier owns one tensor [n,C]: call `dispose()` when done. Reads tensor
 * features synchronously; on tfjs-backend-webgpu in Node use {@link knnClassifierAsync}.
 */
export function knnClassifier(options: KnnClassifierOptions): KnnClassifier {
  return publicClassifier(runReads(classifierReads(options)));
}

/**
 * {@link knnClassifier} reading tensor features asynchronously; use its
 * {@link KnnClassifier.scoresAsync} on tfjs-backend-webgpu in Node.
 */
export async function knnClassifierAsync(options: KnnClassifierOptions): Promise<KnnClassifier> {
  return publicClassifier(await runReadsAsync(classifierReads(options)));
}

/** Options of {@link knnEvaluate}: a classifier's options plus the labelled queries. */
export interface KnnEvaluateOptions extends KnnClassifierOptions {
  /** Query features [m,C]. */
  testFeatures: FloatInput;
  /** One class id per query row. */
  testLabels: ArrayLike<number>;
}

/** Result of {@link knnEvaluate}. */
export interface KnnResult extends TopkAccuracy {
  /** 1 where a test row's top-1 vote is its label, else 0 (for a bootstrap over test rows). */
  correct: Uint8Array;
}

function* evaluateReads(options: KnnEvaluateOptions): TensorReads<KnnResult> {
  const clf = yield* classifierReads(options);
  try {
    const scores = yield* clf.scoreReads(options.testFeatures);
    const m = scores.shape[0] as number;
    const labels = readLabels(options.testLabels, m, options.numClasses, 'testLabels');
    return {
      ...topkAccuracy(scores.data, labels, options.numClasses),
      correct: topkCorrect(scores.data, labels, options.numClasses),
    };
  } finally {
    clf.dispose();
  }
}

/**
 * Top-1/top-5 accuracy of the weighted kNN classifier ({@link knnClassifier}) on
 * labelled test features, and the top-1 correctness of each test row. Leaves no
 * tensors behind. Reads synchronously; on tfjs-backend-webgpu in Node use
 * {@link knnEvaluateAsync}.
 */
export function knnEvaluate(options: KnnEvaluateOptions): KnnResult {
  return runReads(evaluateReads(options));
}

/**
 * {@link knnEvaluate} reading asynchronously (`await data()`): the same result and
 * errors (as a rejection), on every backend, webgpu in Node included.
 */
export function knnEvaluateAsync(options: KnnEvaluateOptions): Promise<KnnResult> {
  return runReadsAsync(evaluateReads(options));
}
