/**
 * The frozen-backbone contract evaluation runs on: images in, the layer4 map and its
 * global average pool out.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';

/** What a {@link FeatureExtractor} returns for a batch of images. */
export interface ExtractedBatch {
  /** The last feature map (layer4), [B,h,w,C]: B images of h*w region vectors. */
  map: tf.Tensor4D;
  /** The global feature, [B,C]: under the backbone contract the mean of `map` over h and w. */
  pooled: tf.Tensor2D;
}

/**
 * A frozen backbone: maps images [B,H,W,3] to their layer4 map and pooled feature.
 * Calls happen inside `tf.tidy`, so the returned tensors are owned by the caller's
 * scope. `pool`, when present, is the part of the network that turns a map into the
 * pooled feature (Grad-CAM differentiates it); without it {@link globalAveragePool}
 * is assumed, as the backbone contract states. A plain function is a valid extractor.
 */
export interface FeatureExtractor {
  (images: tf.Tensor4D): ExtractedBatch;
  /** The head from map to pooled feature, differentiable with `tf.grad`. */
  readonly pool?: (map: tf.Tensor4D) => tf.Tensor2D;
}

/** Mean over the spatial dimensions: [B,h,w,C] -> [B,C]. */
export function globalAveragePool(map: tf.Tensor4D): tf.Tensor2D {
  return tf.mean(map, [1, 2]) as tf.Tensor2D;
}

/**
 * Wraps a two-output tfjs-layers model `[map, pooled]` (the `@ediy/backbones`
 * contract: layer4 map [B,h,w,C] and its global average pool [B,C]) as a
 * {@link FeatureExtractor}. It runs `model.predict`, i.e. inference mode (BatchNorm
 * uses its moving statistics, no dropout); weights are never changed.
 *
 * When the pooled output is produced by one layer applied to the map output (a
 * GlobalAveragePooling2D, say), that layer becomes the extractor's `pool`, called with
 * `layer.apply(map)` inside `tf.grad` by Grad-CAM; otherwise `pool` is left out.
 *
 * @throws when the model does not have exactly two outputs of rank 4 and rank 2.
 */
export function fromLayersModel(model: LayersModel): FeatureExtractor {
  const outs = model.outputs as SymbolicTensor[] | undefined;
  if (!outs || outs.length !== 2) {
    throw new Error(`model must have two outputs [map, pooled], got ${outs?.length ?? 0}`);
  }
  const [mapOut, pooledOut] = outs as [SymbolicTensor, SymbolicTensor];
  if (mapOut.rank !== 4 || pooledOut.rank !== 2) {
    throw new Error(
      `model outputs must be [map [B,h,w,C], pooled [B,C]], got shapes [${mapOut.shape.join(',')}] and [${pooledOut.shape.join(',')}]`,
    );
  }
  const run = (images: tf.Tensor4D): ExtractedBatch => {
    const out = model.predict(images, { batchSize: Math.max(1, images.shape[0]) });
    if (!Array.isArray(out) || out.length !== 2) {
      throw new Error('model.predict must return two tensors [map, pooled]');
    }
    return { map: out[0] as tf.Tensor4D, pooled: out[1] as tf.Tensor2D };
  };
  const inputs = pooledOut.inputs;
  if (inputs.length === 1 && inputs[0] === mapOut) {
    const layer = pooledOut.sourceLayer;
    const pool = (map: tf.Tensor4D): tf.Tensor2D =>
      layer.apply(map, { training: false }) as tf.Tensor2D;
    return Object.assign(run, { pool });
  }
  return run;
}
