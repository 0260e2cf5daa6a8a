/**
 * The typed parameters of one augmented view, and BYOL's asymmetric pair of views.
 */
import { assertInRange, assertInteger } from '@ediy/core';

/** Random resized crop: area fraction and aspect ratio of the source box, output size. */
export interface CropParams {
  /** Output height and width in pixels (views are square). */
  size: number;
  /** Range of the box area as a fraction of the source area, `0 < lo <= hi <= 1`. */
  scale: readonly [number, number];
  /** Range of the box aspect ratio width/height (sampled log-uniformly), `0 < lo <= hi`. */
  ratio: readonly [number, number];
}

/**
 * Colour jitter (torchvision `ColorJitter`), applied with probability `prob`. Each
 * strength `s` of brightness, contrast and saturation gives a factor uniform in
 * `[max(0, 1 - s), 1 + s]`; `hue` gives a shift uniform in `[-hue, hue]` (in turns).
 */
export interface ColorJitterParams {
  /** Probability of applying the jitter to an image, in [0, 1]. */
  prob: number;
  /** Brightness strength, >= 0. */
  brightness: number;
  /** Contrast strength, >= 0. */
  contrast: number;
  /** Saturation strength, >= 0. */
  saturation: number;
  /** Hue strength, in [0, 0.5]. */
  hue: number;
}

/** Gaussian blur with a per-image sigma, applied with probability `prob`. */
export interface BlurParams {
  /** Probability of blurring an image, in [0, 1]. */
  prob: number;
  /** Range of sigma in output pixels, `0 < lo <= hi`; sigma is uniform in it. */
  sigma: readonly [number, number];
  /**
   * Kernel size as a fraction of the output size: the kernel has radius
   * `floor(floor(kernelFraction * size) / 2)` and `2 * radius + 1` taps (23 at 224 px
   * with 0.1, as BYOL). In [0, 1); a radius of 0 makes the blur the identity.
   */
  kernelFraction: number;
}

/** Per-channel normalisation `(x - mean) / std` applied last. */
export interface NormalizeParams {
  /** Per-channel (R, G, B) means. */
  mean: readonly [number, number, number];
  /** Per-channel (R, G, B) standard deviations, > 0. */
  std: readonly [number, number, number];
}

/**
 * One augmented view, in the order the ops run: random resized crop, horizontal flip,
 * colour jitter (its four ops in a random order per image), grayscale, Gaussian blur,
 * solarize, normalise.
 */
export interface ViewParams {
  /** Random resized crop. */
  crop: CropParams;
  /** Probability of a horizontal flip, in [0, 1]. */
  flipProb: number;
  /** Colour jitter. */
  colorJitter: ColorJitterParams;
  /** Probability of converting an image to grayscale (ITU-R 601 luma), in [0, 1]. */
  grayscaleProb: number;
  /** Gaussian blur. */
  blur: BlurParams;
  /** Probability of solarizing an image (`x >= 0.5 -> 1 - x`), in [0, 1]. */
  solarizeProb: number;
  /** Normalisation, or `null` to return images in [0, 1]. */
  normalize: NormalizeParams | null;
}

/** The ImageNet channel statistics torchvision and BYOL normalise with. */
export const IMAGENET_NORMALIZE: NormalizeParams = Object.freeze({
  mean: Object.freeze([0.485, 0.456, 0.406] as const),
  std: Object.freeze([0.229, 0.224, 0.225] as const),
});

function byolView(
  size: number,
  blurProb: number,
  solarizeProb: number,
  sigma: readonly [number, number],
): ViewParams {
  return {
    crop: { size, scale: [0.08, 1], ratio: [3 / 4, 4 / 3] },
    flipProb: 0.5,
    colorJitter: { prob: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
    grayscaleProb: 0.2,
    blur: { prob: blurProb, sigma, kernelFraction: 0.1 },
    solarizeProb,
    normalize: IMAGENET_NORMALIZE,
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Options of {@link byolViewParams}. */
export interface ByolViewOptions {
  /**
   * Scale the blur sigma range `[0.1, 2]` (pixels at BYOL's 224 px) by `size / 224`,
   * so a small view is blurred as much, relative to its size, as a 224 px one
   * (default false: sigma stays in pixels, exactly as BYOL).
   */
  scaleBlurSigma?: boolean;
}

/**
 * BYOL's two views (Grill et al. 2020, Table 6), which the E-DIY paper uses unchanged
 * (Sec. 4.2, "we strictly follow the image augmentation strategy in BYOL"), at output
 * size `size`: crop scale
 * [0.08, 1] and ratio [3/4, 4/3], flip p 0.5, colour jitter p 0.8 with strengths
 * 0.4/0.4/0.2/0.1, grayscale p 0.2, blur sigma [0.1, 2] with a kernel of 10% of the
 * size, ImageNet normalisation. The views differ only in blur p (1.0 / 0.1) and
 * solarize p (0 / 0.2). The returned objects are frozen.
 */
export function byolViewParams(
  size: number,
  options: ByolViewOptions = {},
): readonly [ViewParams, ViewParams] {
  assertInteger(size, 1, 'view size');
  const k = options.scaleBlurSigma ? size / 224 : 1;
  const sigma = [0.1 * k, 2 * k] as const;
  return deepFreeze([byolView(size, 1.0, 0.0, sigma), byolView(size, 0.1, 0.2, sigma)] as const);
}

/** BYOL's asymmetric pair of views at 224 px (see {@link byolViewParams}). */
export const BYOL_VIEWS: readonly [ViewParams, ViewParams] = byolViewParams(224);

function assertProb(p: number, name: string): void {
  assertInRange(p, 0, 1, name);
}

function assertPair(
  pair: readonly [number, number],
  min: number,
  max: number,
  name: string,
  openMin: boolean,
): void {
  if (!Array.isArray(pair) || pair.length !== 2) {
    throw new RangeError(`${name} must be a pair [lo, hi], got ${JSON.stringify(pair)}`);
  }
  const [lo, hi] = pair;
  const ok =
    typeof lo === 'number' &&
    typeof hi === 'number' &&
    Number.isFinite(lo) &&
    Number.isFinite(hi) &&
    (openMin ? lo > min : lo >= min) &&
    hi <= max &&
    lo <= hi;
  if (!ok) {
    throw new RangeError(
      `${name} must be a pair [lo, hi] with ${min} ${openMin ? '<' : '<='} lo <= hi <= ${max}, got ${JSON.stringify(pair)}`,
    );
  }
}

function assertTriple(values: readonly number[], name: string, positive: boolean): void {
  if (
    !Array.isArray(values) ||
    values.length !== 3 ||
    values.some((v) => typeof v !== 'number' || !Number.isFinite(v) || (positive && v <= 0))
  ) {
    throw new RangeError(
      `${name} must be three finite numbers (R, G, B)${positive ? ' > 0' : ''}, got ${JSON.stringify(values)}`,
    );
  }
}

/**
 * Checks a {@link ViewParams}; throws an error naming the bad field, its value and the
 * expected range.
 */
export function validateViewParams(params: ViewParams, name = 'view'): void {
  if (params === null || typeof params !== 'object') {
    throw new TypeError(`${name} must be a ViewParams object, got ${String(params)}`);
  }
  const { crop, colorJitter: cj, blur } = params;
  if (!crop || !cj || !blur) {
    throw new TypeError(
      `${name} must have crop, colorJitter and blur fields, got ${JSON.stringify(params)}`,
    );
  }
  assertInteger(crop.size, 1, `${name}.crop.size`);
  assertPair(crop.scale, 0, 1, `${name}.crop.scale`, true);
  assertPair(crop.ratio, 0, Infinity, `${name}.crop.ratio`, true);
  assertProb(params.flipProb, `${name}.flipProb`);
  assertProb(cj.prob, `${name}.colorJitter.prob`);
  assertInRange(cj.brightness, 0, Infinity, `${name}.colorJitter.brightness`);
  assertInRange(cj.contrast, 0, Infinity, `${name}.colorJitter.contrast`);
  assertInRange(cj.saturation, 0, Infinity, `${name}.colorJitter.saturation`);
  assertInRange(cj.hue, 0, 0.5, `${name}.colorJitter.hue`);
  assertProb(params.grayscaleProb, `${name}.grayscaleProb`);
  assertProb(blur.prob, `${name}.blur.prob`);
  assertPair(blur.sigma, 0, Infinity, `${name}.blur.sigma`, true);
  if (
    typeof blur.kernelFraction !== 'number' ||
    !(blur.kernelFraction >= 0 && blur.kernelFraction < 1)
  ) {
    throw new RangeError(
      `${name}.blur.kernelFraction must be a number in [0, 1), got ${String(blur.kernelFraction)}`,
    );
  }
  assertProb(params.solarizeProb, `${name}.solarizeProb`);
  if (params.normalize !== null) {
    if (!params.normalize || typeof params.normalize !== 'object') {
      throw new TypeError(
        `${name}.normalize must be {mean, std} or null, got ${String(params.normalize)}`,
      );
    }
    assertTriple(params.normalize.mean, `${name}.normalize.mean`, false);
    assertTriple(params.normalize.std, `${name}.normalize.std`, true);
  }
}

/** The blur kernel radius of a view: `floor(floor(kernelFraction * size) / 2)`. */
export function blurRadius(params: ViewParams): number {
  // the epsilon keeps e.g. 0.1 * 30 = 3.0000000000000004 and 0.7 * 10 = 6.999999999999999 exact
  return Math.floor(Math.floor(params.blur.kernelFraction * params.crop.size + 1e-9) / 2);
}
