/**
 * The batched view pipeline: random resized crop, flip, colour jitter, grayscale, blur,
 * solarize, normalise, for a whole batch at once on the backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@ediy/core';
import type { CropBox } from './boxes.js';
import { assertCropBox } from './boxes.js';
import { blurRadius, BYOL_VIEWS, validateViewParams } from './params.js';
import type { ViewParams } from './params.js';
import { assertImageBatch, assertUnitRange } from './check.js';
import { drawAugmentations, JITTER_OPS } from './draw.js';
import type { ImageDraw, JitterOp } from './draw.js';
import { cropResizeFlip } from './crop.js';
import {
  adjustBrightness,
  adjustContrast,
  adjustSaturation,
  grayscale,
  solarize,
} from './color.js';
import { adjustHue } from './hue.js';
import { gaussianBlur } from './blur.js';
import { normalizeImages } from './normalize.js';
import { applyToGroups } from './groups.js';
import type { ImageGroup } from './groups.js';

/** One augmented view of a batch. */
export interface AugmentedView {
  /** The views, [B,size,size,3], normalised by `params.normalize` (in [0, 1] if null). The caller owns it. */
  images: tf.Tensor4D;
  /** Per image, the crop box in source pixel coordinates (see {@link CropBox}). */
  boxes: CropBox[];
  /** Per image, whether the view is mirrored left-right. */
  flipped: boolean[];
}

const JITTER_FNS: Record<JitterOp, (x: tf.Tensor4D, f: number[]) => tf.Tensor4D> = {
  brightness: adjustBrightness,
  contrast: adjustContrast,
  saturation: adjustSaturation,
  hue: adjustHue,
};

/** A factor that leaves an image unchanged, so the op can be skipped. */
const IDENTITY: Record<JitterOp, number> = { brightness: 1, contrast: 1, saturation: 1, hue: 0 };

function group(
  draws: readonly ImageDraw[],
  pick: (d: ImageDraw) => boolean,
  op: ImageGroup['op'],
): ImageGroup {
  const indices: number[] = [];
  draws.forEach((d, i) => {
    if (pick(d)) indices.push(i);
  });
  return { indices, op };
}

/**
 * Applies drawn parameters (from {@link drawAugmentations}) to a batch. The colour
 * jitter runs in four steps; at step k each jittered image gets the k-th op of its own
 * order, so every op is computed once per image that needs it.
 *
 * @param images - [B,H,W,3] float32 in [0, 1] (checked with one read of min, max, sum).
 * @returns the view; the caller owns `images` of the result. The input is not disposed.
 */
export function applyAugmentations(
  images: tf.Tensor4D,
  draws: readonly ImageDraw[],
  params: ViewParams,
): AugmentedView {
  validateViewParams(params);
  const { B, H, W } = assertImageBatch(images);
  if (!Array.isArray(draws) || draws.length !== B) {
    throw new RangeError(
      `draws must have one ImageDraw per image (${B}), got ${Array.isArray(draws) ? draws.length : String(draws)}`,
    );
  }
  draws.forEach((d, i) => {
    assertCropBox(d.box, `draws[${i}].box`, H, W);
    const order = d.jitter?.order;
    if (
      !Array.isArray(order) ||
      order.length !== 4 ||
      JITTER_OPS.some((op) => !order.includes(op))
    ) {
      throw new RangeError(
        `draws[${i}].jitter.order must be a permutation of ${JITTER_OPS.join(', ')}, got ${JSON.stringify(order)}`,
      );
    }
  });
  assertUnitRange(images);
  const boxes = draws.map((d) => ({ ...d.box }));
  const flipped = draws.map((d) => d.flipped);
  const radius = blurRadius(params);
  const out = tf.tidy(() => {
    let x = cropResizeFlip(images, boxes, flipped, params.crop.size);
    for (let step = 0; step < 4; step++) {
      const groups = JITTER_OPS.map((op) => {
        const members = draws
          .map((d, i) => [d, i] as const)
          .filter(
            ([d]) =>
              d.jitter.applied && d.jitter.order[step] === op && d.jitter[op] !== IDENTITY[op],
          );
        const factors = members.map(([d]) => d.jitter[op]);
        return {
          indices: members.map(([, i]) => i),
          op: (sub: tf.Tensor4D) => JITTER_FNS[op](sub, factors),
        };
      });
      x = applyToGroups(x, groups);
    }
    x = applyToGroups(x, [group(draws, (d) => d.grayscale, grayscale)]);
    if (radius > 0) {
      const sigmas = draws.filter((d) => d.blurSigma !== null).map((d) => d.blurSigma as number);
      // the kernel sums to 1 up to float32 rounding: clamp so views stay exactly in [0, 1]
      const blur = (sub: tf.Tensor4D) =>
        tf.clipByValue(gaussianBlur(sub, sigmas, radius), 0, 1) as tf.Tensor4D;
      x = applyToGroups(x, [group(draws, (d) => d.blurSigma !== null, blur)]);
    }
    x = applyToGroups(x, [
      group(
        draws,
        (d) => d.solarize,
        (sub) => solarize(sub, 0.5),
      ),
    ]);
    return params.normalize ? normalizeImages(x, params.normalize) : tf.clone(x);
  });
  return { images: out, boxes, flipped };
}

/**
 * One augmented view of every image of a batch: draws each image's random parameters
 * from `rng` (advancing it; see {@link drawAugmentations}) and applies them on the
 * backend with no per-image round trip (see {@link applyAugmentations}).
 *
 * @param images - [B,H,W,3] float32 in [0, 1]; not disposed.
 * @returns the view; the caller owns its `images` tensor.
 */
export function augmentBatch(images: tf.Tensor4D, params: ViewParams, rng: Rng): AugmentedView {
  validateViewParams(params);
  const { B, H, W } = assertImageBatch(images);
  return applyAugmentations(images, drawAugmentations(B, H, W, params, rng), params);
}

/**
 * BYOL's two views of a batch: `augmentBatch` with `views[0]` then with `views[1]`, both
 * drawing from `rng` in turn. The caller owns both `images` tensors.
 */
export function byolViews(
  images: tf.Tensor4D,
  rng: Rng,
  views: readonly [ViewParams, ViewParams] = BYOL_VIEWS,
): [AugmentedView, AugmentedView] {
  if (!Array.isArray(views) || views.length !== 2) {
    throw new TypeError(
      `views must be a pair of ViewParams, got ${Array.isArray(views) ? `${views.length} views` : String(views)}`,
    );
  }
  validateViewParams(views[0], 'views[0]');
  validateViewParams(views[1], 'views[1]');
  const first = augmentBatch(images, views[0], rng);
  try {
    return [first, augmentBatch(images, views[1], rng)];
  } catch (err) {
    first.images.dispose();
    throw err;
  }
}
