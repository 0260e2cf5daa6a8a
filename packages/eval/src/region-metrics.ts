/**
 * Region-diversity metrics: how different the region features of an image are from
 * each other ("representation collapse": regions whose features are nearly the same).
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloat, type FloatInput } from './host.js';
import { symmetricEigenvalues } from './jacobi.js';

/**
 * Mean pairwise cosine similarity of the N = h*w region features within each image,
 * over the N(N-1) ordered off-diagonal pairs, averaged over the B images of
 * `maps` [B,h,w,C]. 1 means all regions of an image share one direction (collapse);
 * mutually orthogonal regions give 0. A zero region vector counts as similarity 0.
 * @throws when an image has fewer than 2 regions or a value is not finite.
 */
export function regionSimilarity(maps: FloatInput): number {
  const { data, dims } = readFloat(maps, ['B', 'h', 'w', 'C'], 'maps');
  const B = dims.B as number;
  const N = (dims.h as number) * (dims.w as number);
  const C = dims.C as number;
  if (N < 2) throw new Error(`maps must have at least 2 regions per image (h*w >= 2), got h*w = ${N}`);
  if (B < 1) throw new Error('maps must hold at least one image');
  return tf.tidy(() => {
    const x = tf.tensor3d(data, [B, N, C]);
    const norm = tf.norm(x, 'euclidean', -1, true);
    const u = tf.div(x, tf.maximum(norm, 1e-12)); // zero vectors stay zero
    // sum_{i != j} u_i . u_j = ||sum_i u_i||^2 - sum_i ||u_i||^2, per image.
    const total = tf.sum(tf.square(tf.sum(u, 1)), 1);
    const diag = tf.sum(tf.square(u), [1, 2]);
    const perImage = tf.div(tf.sub(total, diag), N * (N - 1));
    return tf.mean(perImage).dataSync()[0] as number;
  });
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
 * C x C matrix X^T X (the uncentred covariance times n), accumulated in float64 and
 * decomposed by Jacobi rotations in JS ({@link symmetricEigenvalues}): O(n C^2 + C^3),
 * about a second for n = 4096, C = 512; meant for C up to ~512.
 *
 * Identical rows give 1; C mutually orthogonal rows of equal norm give C. By default
 * rows are not centred, so a set of identical (collapsed) features has rank 1 rather
 * than an undefined rank of a zero matrix. All-zero features give 0.
 */
export function effectiveRank(features: FloatInput, options: EffectiveRankOptions = {}): number {
  const { data, dims } = readFloat(features, ['n', 'C'], 'features');
  const n = dims.n as number;
  const C = dims.C as number;
  if (n < 1) throw new Error('features must have at least one row');
  // X^T X in float64: float32 rounding would leave eigenvalues ~1e-7 * max that, after
  // the square root, add spurious rank to collapsed features.
  const mean = new Float64Array(C);
  if (options.center) {
    for (let i = 0; i < data.length; i++) mean[i % C] = (mean[i % C] as number) + (data[i] as number) / n;
  }
  const sym = new Float64Array(C * C);
  const row = new Float64Array(C);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < C; i++) row[i] = (data[r * C + i] as number) - (mean[i] as number);
    for (let i = 0; i < C; i++) {
      const xi = row[i] as number;
      if (xi === 0) continue;
      const base = i * C;
      for (let j = i; j < C; j++) sym[base + j] = (sym[base + j] as number) + xi * (row[j] as number);
    }
  }
  for (let i = 0; i < C; i++) for (let j = 0; j < i; j++) sym[i * C + j] = sym[j * C + i] as number;
  const eig = symmetricEigenvalues(sym, C);
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

/** Both region-diversity metrics of a set of maps. */
export interface RegionDiversity {
  /** {@link regionSimilarity} of the maps. */
  meanRegionCosine: number;
  /** {@link effectiveRank} of all B*h*w region features of the maps, as rows [B*h*w, C]. */
  effectiveRank: number;
}

/**
 * Region diversity of maps [B,h,w,C]: the mean within-image region cosine similarity
 * and the effective rank of all region features of all images together.
 */
export function regionDiversity(maps: FloatInput, options: EffectiveRankOptions = {}): RegionDiversity {
  const { data, dims } = readFloat(maps, ['B', 'h', 'w', 'C'], 'maps');
  const C = dims.C as number;
  const host = { data, shape: [data.length / C, C] };
  return {
    meanRegionCosine: regionSimilarity({ data, shape: [dims.B as number, dims.h as number, dims.w as number, C] }),
    effectiveRank: effectiveRank(host, options),
  };
}
