/**
 * The random parameters of one augmented image, drawn in JS from a seeded stream before
 * any tensor op runs.
 */
import type { Rng } from '@ediy/core';
import { assertInteger } from '@ediy/core';
import type { CropBox } from './boxes.js';
import { sampleCropBox } from './boxes.js';
import type { ViewParams } from './params.js';
import { validateViewParams } from './params.js';

/** The four colour-jitter ops. */
export type JitterOp = 'brightness' | 'contrast' | 'saturation' | 'hue';

/** The jitter ops in their canonical order (the order a permutation indexes). */
export const JITTER_OPS: readonly JitterOp[] = Object.freeze([
  'brightness',
  'contrast',
  'saturation',
  'hue',
] as const);

/** The colour jitter drawn for one image. */
export interface JitterDraw {
  /** Whether the jitter is applied (probability `colorJitter.prob`). */
  applied: boolean;
  /** The order the four ops run in (a uniform random permutation, as torchvision). */
  order: readonly JitterOp[];
  /** Brightness factor, uniform in `[max(0, 1 - s), 1 + s]`. */
  brightness: number;
  /** Contrast factor, uniform in `[max(0, 1 - s), 1 + s]`. */
  contrast: number;
  /** Saturation factor, uniform in `[max(0, 1 - s), 1 + s]`. */
  saturation: number;
  /** Hue shift in turns, uniform in `[-s, s]`. */
  hue: number;
}

/** Everything random about one augmented image. */
export interface ImageDraw {
  /** The crop box in source coordinates (see {@link CropBox}). */
  box: CropBox;
  /** Whether the view is mirrored left-right. */
  flipped: boolean;
  /** Colour jitter. */
  jitter: JitterDraw;
  /** Whether the image is converted to grayscale. */
  grayscale: boolean;
  /** The blur sigma in pixels, or `null` when the image is not blurred. */
  blurSigma: number | null;
  /** Whether the image is solarized. */
  solarize: boolean;
}

function factor(rng: Rng, strength: number): number {
  return rng.uniform(Math.max(0, 1 - strength), 1 + strength);
}

/**
 * Draws the random parameters of `batch` images of size `height x width` for one view.
 * Image by image, in this order, every draw is made whether or not its op applies (so
 * changing one probability does not shift the others): crop box, flip, jitter applied,
 * jitter order, the four jitter factors, grayscale, blur applied, blur sigma, solarize.
 * The same stream state gives the same draws.
 */
export function drawAugmentations(
  batch: number,
  height: number,
  width: number,
  params: ViewParams,
  rng: Rng,
): ImageDraw[] {
  validateViewParams(params);
  assertInteger(batch, 0, 'batch size');
  const { colorJitter: cj, blur } = params;
  const out: ImageDraw[] = [];
  for (let i = 0; i < batch; i++) {
    const box = sampleCropBox(height, width, params.crop, rng);
    const flipped = rng.bernoulli(params.flipProb);
    const applied = rng.bernoulli(cj.prob);
    const order = Array.from(rng.permutation(4), (k) => JITTER_OPS[k] as JitterOp);
    const jitter: JitterDraw = {
      applied,
      order,
      brightness: factor(rng, cj.brightness),
      contrast: factor(rng, cj.contrast),
      saturation: factor(rng, cj.saturation),
      hue: rng.uniform(-cj.hue, cj.hue),
    };
    const grayscale = rng.bernoulli(params.grayscaleProb);
    const blurred = rng.bernoulli(blur.prob);
    const sigma = rng.uniform(blur.sigma[0], blur.sigma[1]);
    const solarize = rng.bernoulli(params.solarizeProb);
    out.push({ box, flipped, jitter, grayscale, blurSigma: blurred ? sigma : null, solarize });
  }
  return out;
}
