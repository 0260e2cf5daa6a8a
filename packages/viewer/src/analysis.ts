/**
 * What the page computes for one image: BYOL's two views (as the trainer draws them),
 * each backbone's layer4 region maps of both views, the teacher's region pairs (R-DEM:
 * Eq. 4, R-IEM: Eq. 6, read across views) and the cosine similarity of one region with
 * every region of both views. Browser-safe: tfjs-core, `@ediy/augment`,
 * `@ediy/backbones` and `@ediy/matchers` only.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import {
  IMAGENET_NORMALIZE,
  byolViewParams,
  byolViews,
  normalizeImages,
  type CropBox,
  type ViewParams,
} from '@ediy/augment';
import { resnet } from '@ediy/backbones';
import { readSafetensors } from '@ediy/backbones/interop';
import { Rng } from '@ediy/core';
import { mostDissimilarWithin, mostSimilarAcross } from '@ediy/matchers';
import type { ViewerWeights } from './site.js';

/**
 * The trainer's two views at `size` px (`byolViewParams(size, { scaleBlurSigma: true })`),
 * returned in [0, 1] for drawing: {@link regionMaps} normalises them (ImageNet statistics)
 * exactly as the view pipeline's last step does.
 */
export function viewerViewParams(size: number): [ViewParams, ViewParams] {
  const [a, b] = byolViewParams(size, { scaleBlurSigma: true });
  return [
    { ...a, normalize: null },
    { ...b, normalize: null },
  ];
}

/** Two augmented views of one image. */
export interface ViewPair {
  /** The views in [0, 1], each `[1,S,S,3]`; owned by the pair (see {@link disposeViews}). */
  pixels: [tf.Tensor4D, tf.Tensor4D];
  /** Each view's crop box in source pixels. */
  boxes: [CropBox, CropBox];
  /** Whether each view is mirrored. */
  flipped: [boolean, boolean];
  /** The seed they were drawn with. */
  seed: number;
}

/**
 * Draws BYOL's two views of `image` (`[1,H,W,3]` in [0, 1]) from `new Rng(seed)`, as
 * `byolViews` does in training: view 1 first, then view 2, from the same stream.
 */
export function drawViews(image: tf.Tensor4D, seed: number, size: number): ViewPair {
  if (!Number.isInteger(seed) || seed < 0)
    throw new RangeError(`seed must be an integer >= 0, got ${String(seed)}`);
  if (image.rank !== 4 || image.shape[0] !== 1 || image.shape[3] !== 3)
    throw new RangeError(`image must be [1,H,W,3], got [${image.shape.join(',')}]`);
  const [v1, v2] = byolViews(image, new Rng(seed), viewerViewParams(size));
  return {
    pixels: [v1.images, v2.images],
    boxes: [v1.boxes[0] as CropBox, v2.boxes[0] as CropBox],
    flipped: [v1.flipped[0] as boolean, v2.flipped[0] as boolean],
    seed,
  };
}

/** Frees a pair's tensors. */
export function disposeViews(views: ViewPair): void {
  tf.dispose(views.pixels);
}

/** A region map on the host: `h*w` region vectors of `c` channels, row-major. */
export interface HostRegionMap {
  /** `[h*w*c]`. */
  data: Float32Array;
  /** Grid height. */
  h: number;
  /** Grid width. */
  w: number;
  /** Channels. */
  c: number;
}

/**
 * A backbone's layer4 maps of both views, as tensors `[1,h,w,c]` (the caller owns them):
 * each view is normalised with ImageNet's statistics, as the trainer's pipeline does,
 * and run through the model in inference mode (BatchNorm moving statistics).
 */
export function regionMapTensors(model: LayersModel, views: ViewPair): [tf.Tensor4D, tf.Tensor4D] {
  return tf.tidy(() => {
    const run = (x: tf.Tensor4D): tf.Tensor4D => {
      const out = model.predict(normalizeImages(x, IMAGENET_NORMALIZE));
      const map = Array.isArray(out) ? out[0] : out;
      if (!map || map.rank !== 4)
        throw new Error(`backbone ${model.name} must output a [B,h,w,C] map first`);
      return map as tf.Tensor4D;
    };
    return [run(views.pixels[0]), run(views.pixels[1])];
  });
}

/** Copies a `[1,h,w,c]` map to the host. */
export function toHostMap(map: tf.Tensor4D): HostRegionMap {
  const [, h, w, c] = map.shape;
  return { data: map.dataSync() as Float32Array, h, w, c };
}

/** The teacher's partners of every region of both views (row-major region indices). */
export interface RegionPairs {
  /** R-DEM (Eq. 4): for view v, region j's most different region of the same view v. */
  rDem: [Int32Array, Int32Array];
  /** R-IEM (Eq. 6): for view v, region j's most similar region of the other view. */
  rIem: [Int32Array, Int32Array];
}

/**
 * The partners `@ediy/matchers` gives (`mostDissimilarWithin`, `mostSimilarAcross`) for
 * the teacher maps of view 1 and view 2 (each `[1,h,w,c]`; not disposed).
 */
export function regionPairs(maps: readonly [tf.Tensor4D, tf.Tensor4D]): RegionPairs {
  const [m1, m2] = maps;
  const read = (t: tf.Tensor2D): Int32Array => {
    const out = t.dataSync() as Int32Array;
    t.dispose();
    return Int32Array.from(out);
  };
  return {
    rDem: [read(mostDissimilarWithin(m1)), read(mostDissimilarWithin(m2))],
    rIem: [read(mostSimilarAcross(m1, m2)), read(mostSimilarAcross(m2, m1))],
  };
}

/**
 * The cosine similarity of region `region` of view `view` (0 or 1) with every region of
 * both views, from host maps (`[0]` for view 1, `[1]` for view 2).
 */
export function regionSimilarities(
  maps: readonly [HostRegionMap, HostRegionMap],
  view: number,
  region: number,
): [Float32Array, Float32Array] {
  const query = maps[view];
  if (!query) throw new RangeError(`view must be 0 or 1, got ${String(view)}`);
  const n = query.h * query.w;
  if (!Number.isInteger(region) || region < 0 || region >= n)
    throw new RangeError(`region must be an integer in [0, ${n}), got ${String(region)}`);
  const c = query.c;
  const q = query.data.subarray(region * c, (region + 1) * c);
  const norm = (v: Float32Array): number => Math.max(Math.hypot(...v), 1e-12);
  const qn = norm(q);
  const row = (m: HostRegionMap): Float32Array => {
    const out = new Float32Array(m.h * m.w);
    for (let k = 0; k < out.length; k++) {
      const v = m.data.subarray(k * c, (k + 1) * c);
      let dot = 0;
      for (let i = 0; i < c; i++) dot += (q[i] as number) * (v[i] as number);
      out[k] = dot / (qn * norm(v));
    }
    return out;
  };
  return [row(maps[0]), row(maps[1])];
}

/**
 * Builds a run's backbone (`resnet` of `@ediy/backbones`, in inference mode) and sets its
 * weights from a safetensors file holding tensors `0`, `1`, ... in `getWeights()` order,
 * as the viewer's server writes them from a checkpoint.
 * @param bytes - the file.
 * @param weights - what the file should hold (count, architecture) and where it is from.
 */
export function loadBackbone(bytes: Uint8Array, weights: ViewerWeights, name: string): LayersModel {
  const stored = readSafetensors(bytes, weights.url);
  const model = resnet({ ...weights.backbone, name, seed: 0 });
  if (model.weights.length !== weights.count || stored.size !== weights.count) {
    model.dispose();
    throw new Error(
      `${weights.url}: expected ${weights.count} tensors for a ResNet-${weights.backbone.depth} (the model has ${model.weights.length}), the file has ${stored.size}`,
    );
  }
  const values = model.weights.map((w, i) => {
    const t = stored.get(String(i));
    if (!t) throw new Error(`${weights.url}: tensor ${i} (${w.originalName}) missing`);
    const data =
      t.data instanceof BigInt64Array
        ? Int32Array.from(t.data, (v) => Number(v))
        : Float32Array.from(t.data);
    return tf.tensor(data, t.shape, data instanceof Int32Array ? 'int32' : 'float32');
  });
  try {
    model.setWeights(values);
  } catch (err) {
    model.dispose();
    throw new Error(`${weights.url}: ${(err as Error).message}`, { cause: err });
  } finally {
    tf.dispose(values);
  }
  model.trainable = false;
  return model;
}
