/**
 * The two augmented views of a run from its config's `augment` section: BYOL's pair
 * ({@link byolViewParams}) at the run's image size, changed where the config says.
 */
import { byolViewParams, validateViewParams, type ViewParams } from '@ediy/augment';
import type { ExperimentConfig } from './config.js';

/**
 * Changes to one augmented view (`@ediy/augment`'s `ViewParams`); a field left out
 * keeps BYOL's value.
 */
export interface AugmentViewConfig {
  /** Random resized crop area range, as a share of the image: `0 < lo <= hi <= 1` (BYOL [0.08, 1]). */
  cropScale?: readonly [number, number];
  /** Random resized crop aspect range w/h: `0 < lo <= hi` (BYOL [3/4, 4/3]). */
  cropRatio?: readonly [number, number];
  /** Probability of a horizontal flip (BYOL 0.5). */
  flipProb?: number;
  /** Colour jitter: probability (0.8) and strengths (brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1). */
  colorJitter?: {
    prob?: number;
    brightness?: number;
    contrast?: number;
    saturation?: number;
    hue?: number;
  };
  /** Probability of grayscale (BYOL 0.2). */
  grayscaleProb?: number;
  /**
   * Gaussian blur: probability (view 1: 1.0, view 2: 0.1), sigma range in pixels of a
   * 224 px view ([0.1, 2]), kernel size as a share of the view (0.1).
   */
  blur?: { prob?: number; sigma?: readonly [number, number]; kernelFraction?: number };
  /** Probability of solarizing (view 1: 0, view 2: 0.2). */
  solarizeProb?: number;
}

/** The `augment` section of an experiment: how BYOL's two views are changed ({@link viewParamsOf}). */
export interface AugmentConfig {
  /** Changes applied to both views (before `view1` / `view2`). */
  both?: AugmentViewConfig;
  /** Changes to the first view (BYOL's, blurred always, never solarized). */
  view1?: AugmentViewConfig;
  /** Changes to the second view (blurred 10%, solarized 20%). */
  view2?: AugmentViewConfig;
  /** Scale blur sigmas by `imageSize / 224` (default true); false: sigmas in output pixels. */
  scaleBlurSigma?: boolean;
}

function applyView(view: ViewParams, change: AugmentViewConfig | undefined, k: number): ViewParams {
  if (!change) return view;
  return {
    ...view,
    crop: {
      ...view.crop,
      ...(change.cropScale ? { scale: change.cropScale } : {}),
      ...(change.cropRatio ? { ratio: change.cropRatio } : {}),
    },
    ...(change.flipProb !== undefined ? { flipProb: change.flipProb } : {}),
    colorJitter: { ...view.colorJitter, ...change.colorJitter },
    ...(change.grayscaleProb !== undefined ? { grayscaleProb: change.grayscaleProb } : {}),
    blur: {
      ...view.blur,
      ...(change.blur?.prob !== undefined ? { prob: change.blur.prob } : {}),
      ...(change.blur?.kernelFraction !== undefined
        ? { kernelFraction: change.blur.kernelFraction }
        : {}),
      ...(change.blur?.sigma
        ? { sigma: [change.blur.sigma[0] * k, change.blur.sigma[1] * k] as const }
        : {}),
    },
    ...(change.solarizeProb !== undefined ? { solarizeProb: change.solarizeProb } : {}),
  };
}

/**
 * The two views a run augments with: BYOL's (crop scale [0.08, 1], flip 0.5, colour
 * jitter 0.8 of 0.4/0.4/0.2/0.1, grayscale 0.2, blur 1.0 / 0.1, solarize 0 / 0.2) at
 * `scale.imageSize`, with `augment.both` applied to both views and then `augment.view1`
 * / `augment.view2` to each. Blur sigmas (the default `[0.1, 2]` and a config's) are in
 * pixels of a 224 px view and scaled by `imageSize / 224` unless
 * `augment.scaleBlurSigma` is false. Without an `augment` section this is what every
 * run used before the section existed.
 * @throws RangeError naming the view and field when a resulting value is out of range.
 */
export function viewParamsOf(
  config: Pick<ExperimentConfig, 'scale' | 'augment'>,
): readonly [ViewParams, ViewParams] {
  const augment: AugmentConfig = config.augment ?? {};
  const scaleBlurSigma = augment.scaleBlurSigma ?? true;
  const size = config.scale.imageSize;
  const k = scaleBlurSigma ? size / 224 : 1;
  const [a, b] = byolViewParams(size, { scaleBlurSigma });
  const views = [
    applyView(applyView(a, augment.both, k), augment.view1, k),
    applyView(applyView(b, augment.both, k), augment.view2, k),
  ] as const;
  views.forEach((v, i) => validateViewParams(v, `augment view${i + 1}`));
  return views;
}
