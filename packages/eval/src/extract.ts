/**
 * Frozen-feature extraction: run a backbone over a set of images in batches and
 * collect its pooled features (and, optionally, its region maps) on the host.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertInteger,
  assertShapes,
  runReads,
  runReadsAsync,
  type HostArray,
  type TensorReads,
} from '@ediy/core';
import type { FeatureExtractor } from './extractor.js';
import { imageBatches, type ImagesInput } from './batches.js';

/** Options of {@link extractFeatures}. */
export interface ExtractOptions {
  /** Images per forward pass (default 32). */
  batchSize?: number;
  /** [n,H,W,C]; required when `images` is a bare Float32Array. */
  shape?: readonly number[];
  /** Also return the region maps (default false). */
  maps?: boolean;
}

/** Features of a set of images, on the host. */
export interface ExtractedFeatures {
  /** Pooled features [n,C]. */
  pooled: HostArray;
  /** Region maps [n,h,w,C], when `maps: true` was asked. */
  maps?: HostArray;
}

function* extractReads(
  extractor: FeatureExtractor,
  images: ImagesInput,
  options: ExtractOptions,
): TensorReads<ExtractedFeatures> {
  if (typeof extractor !== 'function')
    throw new TypeError(`extractor must be a function, got ${String(extractor)}`);
  const batchSize = options.batchSize ?? 32;
  assertInteger(batchSize, 1, 'batchSize');
  const source = imageBatches(images, options.shape, 'images');
  const n = source.shape[0];
  let pooled: Float32Array | undefined;
  let maps: Float32Array | undefined;
  let bound: Record<string, number> = {};
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const outputs = tf.tidy(() => {
      const x = source.batch(start, size);
      const out = extractor(x);
      if (!out || !(out.map instanceof tf.Tensor) || !(out.pooled instanceof tf.Tensor)) {
        throw new Error('extractor must return { map: Tensor4D, pooled: Tensor2D }');
      }
      // h, w and C are fixed by the first batch; later batches must agree.
      bound = assertShapes(
        [
          [out.map, [size, 'h', 'w', 'C'], 'extractor map'],
          [out.pooled, [size, 'C'], 'extractor pooled'],
        ],
        bound,
      );
      return options.maps ? [out.pooled, out.map] : [out.pooled];
    });
    const [p, m] = (yield outputs) as [Float32Array, Float32Array?];
    for (const v of p) {
      if (!Number.isFinite(v)) {
        throw new RangeError(
          `extractor produced a non-finite pooled feature (${v}) in the batch at image ${start}`,
        );
      }
    }
    const C = bound.C as number;
    pooled ??= new Float32Array(n * C);
    pooled.set(p, start * C);
    if (m) {
      const per = (bound.h as number) * (bound.w as number) * C;
      maps ??= new Float32Array(n * per);
      maps.set(m, start * per);
    }
  }
  const C = bound.C as number;
  const result: ExtractedFeatures = { pooled: { data: pooled as Float32Array, shape: [n, C] } };
  if (maps) result.maps = { data: maps, shape: [n, bound.h as number, bound.w as number, C] };
  return result;
}

/**
 * Runs `extractor` over `images` [n,H,W,C] in batches of `batchSize` and copies the
 * outputs to typed arrays. Every tensor it allocates is disposed before it returns;
 * `images`, when a tensor, stays the caller's. Reads synchronously (`dataSync()`); on
 * tfjs-backend-webgpu in Node use {@link extractFeaturesAsync}.
 *
 * @throws when the extractor's outputs do not have shapes [b,h,w,C] and [b,C] with
 *   the same h, w, C for every batch, or hold non-finite values.
 */
export function extractFeatures(
  extractor: FeatureExtractor,
  images: ImagesInput,
  options: ExtractOptions = {},
): ExtractedFeatures {
  return runReads(extractReads(extractor, images, options));
}

/**
 * {@link extractFeatures} reading each batch's outputs asynchronously (`await data()`):
 * the same features and errors (as a rejection), on every backend, webgpu in Node
 * included.
 */
export function extractFeaturesAsync(
  extractor: FeatureExtractor,
  images: ImagesInput,
  options: ExtractOptions = {},
): Promise<ExtractedFeatures> {
  return runReadsAsync(extractReads(extractor, images, options));
}
