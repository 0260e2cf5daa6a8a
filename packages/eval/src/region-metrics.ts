/**
 * Region-diversity metrics: how different the region features of an image are from
 * each other ("representation collapse": regions whose features are nearly the same).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  readFloatReads,
  runReads,
  runReadsAsync,
  type FloatInput,
  type TensorReads,
} from '@ediy/core';
import { symmetricEigenvalues } from './jacobi.js';

function* similarityReads(maps: FloatInput): TensorReads<number> {
  const { data, dims } = yield* readFloatReads(maps, ['B', 'h', 'w', 'C'], 'maps');
  const B = dims.B as number;
  const N = (dims.h as number) * (dims.w as number);
  const C = dims.C as number;
  if (N < 2)
    throw new Error(`maps must have at least 2 regions per image (h*w >= 2), got h*w = ${N}`);
  if (B < 1) throw new Error('maps must hold at least one image');
  const mean = tf.tidy(() => {
    const x = tf.tensor3d(data, [B, N, C]);
    const norm = tf.norm(x, 'euclidean', -1, true);
    const u = tf.div(x, tf.maximum(norm, 1e-12)); // zero vectors stay zero
    // sum_{i != j} u_i . u_j = ||sum_i u_i||^2 - sum_i ||u_i||^2, per image.
    const total = tf.sum(tf.square(tf.sum(u, 1)), 1);
    const diag = tf.sum(tf.square(u), [1, 2]);
    const perImage = tf.div(tf.sub(total, diag), N * (N - 1));
    return tf.mean(perImage);
  });
  const [value] = (yield [mean]) as [Float32Array];
  return value[0] as number;
}

/**
 * Mean pairwise cosine similarity of the N = h*w region features within each image,
 * over the N(N-1) ordered off-diagonal pairs, averaged over the B images of
 * `maps` [B,h,w,C]. 1 means all regions of an image share one direction (collapse);
 * mutually orthogonal regions give 0. A zero region vector counts as similarity 0.
 * Reads synchronously; on tfjs-backend-webgpu in Node use {@link regionSimilarityAsync}.
 * @throws when an image has fewer than 2 regions or a value is not finite.
 */
export function regionSimilarity(maps: FloatInput): number {
  return runReads(similarityReads(maps));
}

/**
 * {@link regionSimilarity} reading asynchronously (`await data()`): the same value and
 * errors (as a rejection), on every backend, webgpu in Node included.
 */
export function regionSimilarityAsync(maps: FloatInput): Promise<number> {
  return runReadsAsync(similarityReads(maps));
}

/** Options of {@link effectiveRank}. */
export interface EffectiveRankOptions {
  /** Subtract the mean row before the decomposition (default false). */
  center?: boolean;
}

/**
 * Effective rank (Roy & Vetterli, 2007) of features X [n,C]: exp(H(p)) with
 * p_i = s_i / sum_j s_j over the singular values s of X and H the Shannon entropy
 * (natural log). The singular values are the square roots of the eigenvalues of the
 * C x C matrix X^T X (the uncentred covariance times n; X X^T when n < C), accumulated
 * in float64 and decomposed by Jacobi rotations in JS ({@link symmetricEigenvalues}):
 * O(n C^2 + C^3). Measured on one shared core: C = 256 under a second, C = 512 about
 * 10 s (n = 4096); meant for the reduced-width backbones of the `mini` preset.
 *
 * Identical rows give 1; C mutually orthogonal rows of equal norm give C. By default
 * rows are not centred, so a set of identical (collapsed) features has rank 1 rather
 * than an undefined rank of a zero matrix. All-zero features give 0.
 */
export function effectiveRank(features: FloatInput, options: EffectiveRankOptions = {}): number {
  return runReads(rankReads(features, options));
}

/**
 * {@link effectiveRank} reading a tensor asynchronously (`await data()`): the same value
 * and errors (as a rejection), on every backend, webgpu in Node included.
 */
export function effectiveRankAsync(
  features: FloatInput,
  options: EffectiveRankOptions = {},
): Promise<number> {
  return runReadsAsync(rankReads(features, options));
}

function* rankReads(features: FloatInput, options: EffectiveRankOptions): TensorReads<number> {
  const { data, dims } = yield* readFloatReads(features, ['n', 'C'], 'features');
  return rankOf(data, dims.n as number, dims.C as number, options);
}

function rankOf(data: Float32Array, n: number, C: number, options: EffectiveRankOptions): number {
  if (n < 1) throw new Error('features must have at least one row');
  // The nonzero singular values of X are the square roots of the eigenvalues of X^T X
  // (C x C) or of X X^T (n x n): take the smaller. Accumulated in float64: float32
  // rounding would leave eigenvalues ~1e-7 * max that, after the square root, add
  // spurious rank to collapsed features.
  const mean = new Float64Array(C);
  if (options.center) {
    for (let i = 0; i < data.length; i++)
      mean[i % C] = (mean[i % C] as number) + (data[i] as number) / n;
  }
  const size = Math.min(n, C);
  const sym = n < C ? rowGram(data, n, C, mean) : columnGram(data, n, C, mean);
  const eig = symmetricEigenvalues(sym, size);
  // Eigenvalues below the decomposition's precision are zero.
  const floor = Math.max(eig[0] ?? 0, 0) * 1e-13;
  const sv = Array.from(eig, (e) => (e > floor ? Math.sqrt(e) : 0));
  const total = sv.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  let entropy = 0;
  for (const s of sv) {
    const p = s / total;
    if (p > 0) entropy -= p * Math.log(p);
  }
  return Math.exp(entropy);
}

/** X^T X [C,C] of centred rows, float64, accumulated 8 rows at a time. */
function columnGram(data: Float32Array, n: number, C: number, mean: Float64Array): Float64Array {
  const sym = new Float64Array(C * C);
  const B = 8;
  const block = new Float64Array(B * C);
  for (let r0 = 0; r0 < n; r0 += B) {
    const rows = Math.min(B, n - r0);
    block.fill(0);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < C; i++)
        block[r * C + i] = (data[(r0 + r) * C + i] as number) - (mean[i] as number);
    }
    for (let i = 0; i < C; i++) {
      const base = i * C;
      const x0 = block[i] as number,
        x1 = block[C + i] as number,
        x2 = block[2 * C + i] as number;
      const x3 = block[3 * C + i] as number,
        x4 = block[4 * C + i] as number,
        x5 = block[5 * C + i] as number;
      const x6 = block[6 * C + i] as number,
        x7 = block[7 * C + i] as number;
      for (let j = i; j < C; j++) {
        sym[base + j] =
          (sym[base + j] as number) +
          x0 * (block[j] as number) +
          x1 * (block[C + j] as number) +
          x2 * (block[2 * C + j] as number) +
          x3 * (block[3 * C + j] as number) +
          x4 * (block[4 * C + j] as number) +
          x5 * (block[5 * C + j] as number) +
          x6 * (block[6 * C + j] as number) +
          x7 * (block[7 * C + j] as number);
      }
    }
  }
  for (let i = 0; i < C; i++) for (let j = 0; j < i; j++) sym[i * C + j] = sym[j * C + i] as number;
  return sym;
}

/** X X^T [n,n] of centred rows, float64. */
function rowGram(data: Float32Array, n: number, C: number, mean: Float64Array): Float64Array {
  const x = new Float64Array(n * C);
  for (let i = 0; i < n * C; i++) x[i] = (data[i] as number) - (mean[i % C] as number);
  const sym = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a; b < n; b++) {
      let dot = 0;
      for (let k = 0; k < C; k++) dot += (x[a * C + k] as number) * (x[b * C + k] as number);
      sym[a * n + b] = dot;
      sym[b * n + a] = dot;
    }
  }
  return sym;
}

/** Both region-diversity metrics of a set of maps. */
export interface RegionDiversity {
  /** {@link regionSimilarity} of the maps. */
  meanRegionCosine: number;
  /** {@link effectiveRank} of all B*h*w region features of the maps, as rows [B*h*w, C]. */
  effectiveRank: number;
}

function* diversityReads(
  maps: FloatInput,
  options: EffectiveRankOptions,
): TensorReads<RegionDiversity> {
  const { data, dims } = yield* readFloatReads(maps, ['B', 'h', 'w', 'C'], 'maps');
  const C = dims.C as number;
  return {
    meanRegionCosine: yield* similarityReads({
      data,
      shape: [dims.B as number, dims.h as number, dims.w as number, C],
    }),
    effectiveRank: yield* rankReads({ data, shape: [data.length / C, C] }, options),
  };
}

/**
 * Region diversity of maps [B,h,w,C]: the mean within-image region cosine similarity
 * and the effective rank of all region features of all images together. Reads
 * synchronously; on tfjs-backend-webgpu in Node use {@link regionDiversityAsync}.
 */
export function regionDiversity(
  maps: FloatInput,
  options: EffectiveRankOptions = {},
): RegionDiversity {
  return runReads(diversityReads(maps, options));
}

/**
 * {@link regionDiversity} reading asynchronously (`await data()`): the same values and
 * errors (as a rejection), on every backend, webgpu in Node included.
 */
export function regionDiversityAsync(
  maps: FloatInput,
  options: EffectiveRankOptions = {},
): Promise<RegionDiversity> {
  return runReadsAsync(diversityReads(maps, options));
}
