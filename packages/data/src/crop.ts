/**
 * Crop boxes of the streaming loader, chosen from an image's size and a seeded stream:
 * the random resized crop of Inception / BYOL (torchvision's `RandomResizedCrop`), and a
 * centred crop for evaluation.
 */
import type { Rng } from '@ediy/core';

/** A box to cut from an image, in whole pixels of the EXIF-oriented image. */
export interface CropBox {
  /** First column. */
  left: number;
  /** First row. */
  top: number;
  /** Width in pixels (>= 1). */
  width: number;
  /** Height in pixels (>= 1). */
  height: number;
}

/** How the streaming loader cuts each image before resizing it to the output side. */
export type CropSpec =
  | {
      /**
       * A random box of `scale` (share of the image's area) and aspect `ratio` (w/h, drawn
       * log-uniformly), as torchvision's `RandomResizedCrop`: up to 10 draws, else the
       * centred box of the nearest allowed aspect.
       */
      kind: 'random-resized';
      /** Area share range (default [0.08, 1], BYOL's). */
      scale?: readonly [number, number];
      /** Aspect range w/h (default [3/4, 4/3]). */
      ratio?: readonly [number, number];
    }
  | {
      /** The centred square of side `fraction * min(width, height)` (ImageNet evaluation: 0.875 = 224/256). */
      kind: 'center';
      /** Default 1: the largest centred square. */
      fraction?: number;
    }
  | {
      /** The whole image, stretched to a square. */
      kind: 'full';
    };

/** Checks a {@link CropSpec}, naming the bad field. */
export function checkCropSpec(crop: CropSpec, where: string): void {
  const kind = (crop as { kind?: unknown })?.kind;
  if (kind === 'random-resized') {
    const c = crop as Extract<CropSpec, { kind: 'random-resized' }>;
    const [s0, s1] = c.scale ?? [0.08, 1];
    if (!(s0 > 0 && s0 <= s1 && s1 <= 1)) {
      throw new RangeError(
        `${where}: crop.scale must be [min, max] with 0 < min <= max <= 1, got [${String(s0)}, ${String(s1)}]`,
      );
    }
    const [r0, r1] = c.ratio ?? [3 / 4, 4 / 3];
    if (!(r0 > 0 && r0 <= r1 && Number.isFinite(r1))) {
      throw new RangeError(
        `${where}: crop.ratio must be [min, max] with 0 < min <= max, got [${String(r0)}, ${String(r1)}]`,
      );
    }
  } else if (kind === 'center') {
    const f = (crop as { fraction?: number }).fraction ?? 1;
    if (!(f > 0 && f <= 1)) {
      throw new RangeError(`${where}: crop.fraction must be in (0, 1], got ${String(f)}`);
    }
  } else if (kind !== 'full') {
    throw new RangeError(
      `${where}: crop.kind must be 'random-resized', 'center' or 'full', got ${String(kind)}`,
    );
  }
}

/**
 * The box to cut from a `width x height` image. Only `random-resized` draws from `rng`.
 * The box is whole pixels, inside the image, at least 1x1.
 */
export function cropBox(width: number, height: number, crop: CropSpec, rng: Rng): CropBox {
  if (crop.kind === 'full') return { left: 0, top: 0, width, height };
  if (crop.kind === 'center') {
    const side = Math.max(1, Math.round((crop.fraction ?? 1) * Math.min(width, height)));
    return {
      left: Math.floor((width - side) / 2),
      top: Math.floor((height - side) / 2),
      width: side,
      height: side,
    };
  }
  const [s0, s1] = crop.scale ?? [0.08, 1];
  const [r0, r1] = crop.ratio ?? [3 / 4, 4 / 3];
  const area = width * height;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(s0, s1);
    const aspect = Math.exp(rng.uniform(Math.log(r0), Math.log(r1)));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      return { left: rng.int(width - w + 1), top: rng.int(height - h + 1), width: w, height: h };
    }
  }
  // fallback: the whole image, cut to the nearest allowed aspect, centred
  const aspect = width / height;
  let w = width;
  let h = height;
  if (aspect < r0) h = Math.max(1, Math.round(w / r0));
  else if (aspect > r1) w = Math.max(1, Math.round(h * r1));
  return {
    left: Math.floor((width - w) / 2),
    top: Math.floor((height - h) / 2),
    width: w,
    height: h,
  };
}
