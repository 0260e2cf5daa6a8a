/**
 * Saliency maps of a frozen backbone, as in Fig. 1 of the E-DIY paper: per image, a
 * heat map of which regions its representation attends to.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import {
  assertInteger,
  assertShapes,
  runReads,
  runReadsAsync,
  type HostArray,
  type TensorReads,
} from '@ediy/core';
import { globalAveragePool, type FeatureExtractor } from './extractor.js';
import { imageBatches, type ImagesInput } from './batches.js';

/** Options of {@link saliencyMaps}. */
export interface SaliencyOptions {
  /**
   * `norm`: the L2 norm of each region feature ||A_ij||.
   * `gradcam`: Grad-CAM on the layer4 map A, relu(sum_c alpha_c A_ijc) with
   * alpha_c = mean_ij dS/dA_ijc, for a scalar S of the pooled feature (see `target`).
   */
  method: 'norm' | 'gradcam';
  /**
   * Grad-CAM's scalar S per image: `norm` = ||pool(A)|| (default); `cosine` = the mean
   * over regions of cos(A_ij, pool(A)).
   */
  target?: 'norm' | 'cosine';
  /**
   * The map-to-pooled head Grad-CAM differentiates; default the extractor's `pool`,
   * else {@link globalAveragePool} (the backbone contract).
   */
  pool?: (map: tf.Tensor4D) => tf.Tensor2D;
  /** Images per forward pass (default 16). */
  batchSize?: number;
  /** [n,H,W,C]; required when `images` is a bare Float32Array. */
  shape?: readonly number[];
}

function spatialNorm(x: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.add(tf.sum(tf.square(x), -1), 1e-12));
}

/** Grad-CAM score S, summed over the batch (images are independent, so dS_b/dA_b is kept). */
function camScore(
  map: tf.Tensor4D,
  pool: (m: tf.Tensor4D) => tf.Tensor2D,
  target: 'norm' | 'cosine',
): tf.Scalar {
  const pooled = pool(map);
  if (target === 'norm') return tf.sum(spatialNorm(pooled));
  const p = tf.reshape(pooled, [pooled.shape[0], 1, 1, pooled.shape[1]]);
  const cos = tf.div(tf.sum(tf.mul(map, p), -1), tf.mul(spatialNorm(map), spatialNorm(p)));
  return tf.sum(tf.mean(cos, [1, 2]));
}

function* saliencyReads(
  extractor: FeatureExtractor,
  images: ImagesInput,
  options: SaliencyOptions,
): TensorReads<HostArray> {
  if (typeof extractor !== 'function')
    throw new TypeError(`extractor must be a function, got ${String(extractor)}`);
  const method = options?.method;
  if (method !== 'norm' && method !== 'gradcam') {
    throw new Error(`saliency method must be 'norm' or 'gradcam', got ${JSON.stringify(method)}`);
  }
  const target = options.target ?? 'norm';
  if (target !== 'norm' && target !== 'cosine') {
    throw new Error(`saliency target must be 'norm' or 'cosine', got ${JSON.stringify(target)}`);
  }
  const batchSize = options.batchSize ?? 16;
  assertInteger(batchSize, 1, 'batchSize');
  const pool = options.pool ?? extractor.pool ?? globalAveragePool;
  const source = imageBatches(images, options.shape, 'images');
  const [n, H, W] = source.shape;
  const out = new Float32Array(n * H * W);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const scaledHeat = tf.tidy(() => {
      const { map, pooled } = extractor(source.batch(start, size));
      assertShapes([
        [map, [size, 'h', 'w', 'C'], 'extractor map'],
        [pooled, [size, 'C'], 'extractor pooled'],
      ]);
      let cam: tf.Tensor;
      if (method === 'norm') {
        cam = spatialNorm(map);
      } else {
        const grad = tf.grad((a: tf.Tensor) => camScore(a as tf.Tensor4D, pool, target))(map);
        const alpha = tf.mean(grad, [1, 2], true);
        cam = tf.relu(tf.sum(tf.mul(alpha, map), -1));
      }
      const up = tf.squeeze(
        tf.image.resizeBilinear(tf.expandDims(cam, -1) as tf.Tensor4D, [H, W], false, true),
        [3],
      );
      const lo = tf.min(up, [1, 2], true);
      const range = tf.sub(tf.max(up, [1, 2], true), lo);
      const scaled = tf.div(tf.sub(up, lo), tf.maximum(range, 1e-12));
      return tf.mul(scaled, tf.cast(tf.greater(range, 1e-12), 'float32'));
    });
    const [heat] = (yield [scaledHeat]) as [Float32Array];
    for (const v of heat) {
      if (!Number.isFinite(v))
        throw new RangeError(`saliency of the batch at image ${start} is not finite (${v})`);
    }
    out.set(heat, start * H * W);
  }
  return { data: out, shape: [n, H, W] };
}

/**
 * Heat maps [n,H,W] (one per image, at the image's size, each scaled to [0,1] by its
 * own min and max; a constant map gives 0) of where the representation attends.
 *
 * `norm` takes the L2 norm of each region of the layer4 map. `gradcam` follows
 * Grad-CAM (Selvaraju et al. 2017) with the pooled feature's norm (or the mean cosine
 * of the regions to it) as the score: the map A is computed once in inference mode,
 * then `tf.grad` differentiates the score through the head `pool` (for a
 * {@link fromLayersModel} extractor, the model's own pooling layer run with
 * `layer.apply` inside `tf.grad`) with respect to A. With global average pooling and
 * `target: 'norm'`, alpha_c is proportional to the pooled feature, so the map is
 * relu(A_ij . pooled), each region's agreement with the global feature.
 * Region maps are upsampled bilinearly (half-pixel centres). Leaves no tensors behind.
 * Reads synchronously (once per batch); on tfjs-backend-webgpu in Node use
 * {@link saliencyMapsAsync}.
 */
export function saliencyMaps(
  extractor: FeatureExtractor,
  images: ImagesInput,
  options: SaliencyOptions,
): HostArray {
  return runReads(saliencyReads(extractor, images, options));
}

/**
 * {@link saliencyMaps} reading asynchronously (`await data()`): the same maps and errors
 * (as a rejection), on every backend, webgpu in Node included.
 */
export function saliencyMapsAsync(
  extractor: FeatureExtractor,
  images: ImagesInput,
  options: SaliencyOptions,
): Promise<HostArray> {
  return runReadsAsync(saliencyReads(extractor, images, options));
}
