/**
 * The embedded default dataset: seeded synthetic RGB scenes with textured backgrounds and
 * a few objects, each with a per-pixel class mask, object boxes and an image label. No
 * download; scene `i` is generated on demand from `(seed, i)` alone.
 */
import { assertInteger, Rng } from '@ediy/core';
import { checkIndices } from './check.js';
import { boxesFromInstances, paintBackground } from './scene.js';
import type { Dataset, DatasetBatch, ObjectBox } from './types.js';

/** Object shapes of the synthetic scenes. */
export const SHAPES = ['circle', 'square', 'triangle', 'cross', 'ring', 'diamond'] as const;
/** Object colours of the synthetic scenes, as RGB in [0, 1]. */
export const COLOURS = {
  /** RGB of red objects. */
  red: [0.9, 0.12, 0.1],
  /** RGB of green objects. */
  green: [0.15, 0.8, 0.2],
  /** RGB of blue objects. */
  blue: [0.15, 0.3, 0.95],
  /** RGB of yellow objects. */
  yellow: [0.95, 0.9, 0.1],
  /** RGB of magenta objects. */
  magenta: [0.9, 0.15, 0.85],
  /** RGB of cyan objects. */
  cyan: [0.1, 0.85, 0.9],
  /** RGB of orange objects. */
  orange: [1.0, 0.55, 0.05],
} as const;
/** Object textures of the synthetic scenes. */
export const TEXTURES = ['solid', 'stripes', 'checker'] as const;

const COLOUR_NAMES = Object.keys(COLOURS) as (keyof typeof COLOURS)[];

/** Largest `numClasses` of {@link syntheticScenes}: 6 shapes x 7 colours x 3 textures. */
export const MAX_SYNTHETIC_CLASSES = SHAPES.length * COLOUR_NAMES.length * TEXTURES.length;

/** What class `k` of the synthetic scenes looks like. */
export interface SyntheticClass {
  /** Outline. */
  shape: (typeof SHAPES)[number];
  /** Fill colour. */
  colour: keyof typeof COLOURS;
  /** Fill pattern. */
  texture: (typeof TEXTURES)[number];
}

/**
 * The look of class `k`: shape `k mod 6`, colour `k mod 7`, texture `floor(k / 42) mod 3`.
 * As 6 and 7 are coprime, classes 0..41 are 42 distinct shape x colour pairs (so any two
 * classes below 42 differ in shape or colour, and classes below 6 in both); classes 42..125
 * repeat them with stripes, then checks.
 * @throws when `k` is not an integer in `[0, MAX_SYNTHETIC_CLASSES)`.
 */
export function syntheticClass(k: number): SyntheticClass {
  if (!Number.isInteger(k) || k < 0 || k >= MAX_SYNTHETIC_CLASSES) {
    throw new RangeError(
      `synthetic class must be an integer in [0, ${MAX_SYNTHETIC_CLASSES}), got ${String(k)}`,
    );
  }
  return {
    shape: SHAPES[k % SHAPES.length] as SyntheticClass['shape'],
    colour: COLOUR_NAMES[k % COLOUR_NAMES.length] as SyntheticClass['colour'],
    texture: TEXTURES[
      Math.floor(k / (SHAPES.length * COLOUR_NAMES.length)) % TEXTURES.length
    ] as SyntheticClass['texture'],
  };
}

/** Options of {@link syntheticScenes}. */
export interface SyntheticScenesOptions {
  /** Number of scenes. */
  count: number;
  /** Side in pixels (square images); 32 to 96 is the intended range, 16 to 256 is accepted. */
  size: number;
  /** Number of object classes K, 1 to {@link MAX_SYNTHETIC_CLASSES}. */
  numClasses: number;
  /** Seed: the same seed (and options) gives the same scenes. */
  seed: number;
  /** Fewest objects per scene (default 1). */
  minObjects?: number;
  /** Most objects per scene (default 4). */
  maxObjects?: number;
}

/** Whether `(u, v)` in the unit disk lies in `shape`. */
function inside(shape: number, u: number, v: number): boolean {
  switch (shape) {
    case 0: // circle
      return u * u + v * v <= 1;
    case 1: // square
      return Math.abs(u) <= 0.7 && Math.abs(v) <= 0.7;
    case 2: // triangle (equilateral, inscribed)
      return v >= -0.5 && Math.sqrt(3) * u + v <= 1 && -Math.sqrt(3) * u + v <= 1;
    case 3: // cross
      return (
        (Math.abs(u) <= 0.3 && Math.abs(v) <= 0.9) || (Math.abs(v) <= 0.3 && Math.abs(u) <= 0.9)
      );
    case 4: {
      // ring
      const r2 = u * u + v * v;
      return r2 <= 1 && r2 >= 0.3;
    }
    default: // diamond
      return Math.abs(u) + Math.abs(v) <= 1;
  }
}

/**
 * Draws scene `index` into `images`/`masks` at item `slot`.
 * @returns the visible objects and the image label.
 */
function drawScene(
  rng: Rng,
  size: number,
  numClasses: number,
  minObjects: number,
  maxObjects: number,
  images: Float32Array,
  masks: Int32Array,
  slot: number,
): { boxes: ObjectBox[]; label: number } {
  const hw = size * size;
  paintBackground(rng, images, slot * hw * 3, size, size, 3);
  const instances = new Int16Array(hw).fill(-1);
  const nObjects = minObjects + rng.int(maxObjects - minObjects + 1);
  const classOf: number[] = [];
  for (let o = 0; o < nObjects; o++) {
    const k = rng.int(numClasses);
    classOf.push(k);
    const shape = k % SHAPES.length;
    const colour = COLOURS[COLOUR_NAMES[k % COLOUR_NAMES.length] as keyof typeof COLOURS];
    const texture = Math.floor(k / (SHAPES.length * COLOUR_NAMES.length)) % TEXTURES.length;
    const r = Math.max(3, rng.uniform(0.12, 0.3) * size);
    const cx = rng.uniform(0.6 * r, size - 0.6 * r);
    const cy = rng.uniform(0.6 * r, size - 0.6 * r);
    const theta = rng.uniform(0, 2 * Math.PI);
    const cos = Math.cos(theta) / r;
    const sin = Math.sin(theta) / r;
    const bright = rng.uniform(0.8, 1);
    const noiseSeed = rng.nextUint32();
    const xa = Math.max(0, Math.floor(cx - r));
    const xb = Math.min(size, Math.ceil(cx + r));
    const ya = Math.max(0, Math.floor(cy - r));
    const yb = Math.min(size, Math.ceil(cy + r));
    for (let y = ya; y < yb; y++) {
      const dy = y + 0.5 - cy;
      for (let x = xa; x < xb; x++) {
        const dx = x + 0.5 - cx;
        const u = dx * cos + dy * sin;
        const v = -dx * sin + dy * cos;
        if (!inside(shape, u, v)) continue;
        let f = bright;
        if (texture === 1) f *= (Math.floor(u * r * 0.5) & 1) === 0 ? 1 : 0.45;
        else if (texture === 2)
          f *= ((Math.floor(u * r * 0.5) + Math.floor(v * r * 0.5)) & 1) === 0 ? 1 : 0.45;
        // cheap per-pixel grain from an integer hash: no extra random draws
        let hsh = Math.imul((y * size + x) ^ noiseSeed, 0x9e3779b1);
        hsh ^= hsh >>> 15;
        const grain = ((hsh & 0xff) / 255 - 0.5) * 0.08;
        const p = (slot * hw + y * size + x) * 3;
        for (let c = 0; c < 3; c++)
          images[p + c] = Math.min(1, Math.max(0, (colour[c] as number) * f + grain));
        instances[y * size + x] = o;
      }
    }
  }
  const { boxes, label } = boxesFromInstances(instances, classOf, size, size);
  for (let p = 0; p < hw; p++) {
    const i = instances[p] as number;
    masks[slot * hw + p] = i < 0 ? 0 : (classOf[i] as number) + 1;
  }
  return { boxes, label };
}

/**
 * A seeded dataset of synthetic multi-object RGB scenes (the
 * embedded default when no data is named). Each scene has a textured background (noise,
 * stripes or a gradient, muted colours) and `minObjects..maxObjects` objects, each of a
 * class drawn uniformly from `numClasses`; a class is a shape x colour x texture
 * combination ({@link syntheticClass}). Objects have random size, position and rotation;
 * later ones cover earlier ones.
 *
 * Every item has `masks` (0 = background, k+1 = class k, per visible pixel), `boxes`
 * (the visible objects, tight boxes) and a label: the class of the object with the
 * most visible pixels. Scene `i` depends only on `(seed, i, size, numClasses,
 * minObjects, maxObjects)`, not on `count` or on which other scenes were read; scenes
 * are drawn on demand, so the dataset holds no pixels.
 *
 * @throws when an option is out of range, naming it.
 */
export function syntheticScenes(options: SyntheticScenesOptions): Dataset {
  const { count, size, numClasses, seed } = options;
  const minObjects = options.minObjects ?? 1;
  const maxObjects = options.maxObjects ?? 4;
  assertInteger(count, 1, 'syntheticScenes: count');
  assertInteger(size, 16, 'syntheticScenes: size');
  if (size > 256)
    throw new RangeError(`syntheticScenes: size must be at most 256 (32-96 intended), got ${size}`);
  assertInteger(numClasses, 1, 'syntheticScenes: numClasses');
  if (numClasses > MAX_SYNTHETIC_CLASSES) {
    throw new RangeError(
      `syntheticScenes: numClasses must be at most ${MAX_SYNTHETIC_CLASSES}, got ${numClasses}`,
    );
  }
  assertInteger(minObjects, 1, 'syntheticScenes: minObjects');
  assertInteger(maxObjects, minObjects, 'syntheticScenes: maxObjects (>= minObjects)');
  if (maxObjects > 32)
    throw new RangeError(`syntheticScenes: maxObjects must be at most 32, got ${maxObjects}`);
  if (!Number.isFinite(seed))
    throw new RangeError(`syntheticScenes: seed must be a finite number, got ${String(seed)}`);
  const root = new Rng(seed);
  const classNames = Array.from({ length: numClasses }, (_, k) => {
    const c = syntheticClass(k);
    return `${c.texture} ${c.colour} ${c.shape}`;
  });
  const dataset: Dataset = {
    name: `syntheticScenes(seed=${seed})`,
    size: count,
    imageShape: [size, size, 3],
    numClasses,
    hasMasks: true,
    classNames,
    get(indices: ArrayLike<number>): DatasetBatch {
      checkIndices(dataset, indices);
      const n = indices.length;
      const images = new Float32Array(n * size * size * 3);
      const masks = new Int32Array(n * size * size);
      const labels = new Int32Array(n);
      const boxes: ObjectBox[][] = [];
      for (let i = 0; i < n; i++) {
        const rng = root.fork(`scene:${indices[i] as number}`);
        const scene = drawScene(rng, size, numClasses, minObjects, maxObjects, images, masks, i);
        labels[i] = scene.label;
        boxes.push(scene.boxes);
      }
      return { images, labels, masks, boxes };
    },
  };
  return dataset;
}
