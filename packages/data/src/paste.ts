/**
 * Scenes built from any labeled single-object dataset (e.g. Fashion-MNIST): items are
 * pasted onto larger canvases with their masks, giving a dense task on real pixels.
 */
import { assertInRange, assertInteger, Rng } from '@ediy/core';
import { checkIndices } from './check.js';
import { boxesFromInstances, paintBackground } from './scene.js';
import type { Dataset, DatasetBatch, ObjectBox } from './types.js';

/** Options of {@link pasteScenes}. */
export interface PasteScenesOptions {
  /** Number of scenes. */
  count: number;
  /** Canvas side in pixels; at least the source's height and width. */
  size: number;
  /** Seed: the same seed, source and options give the same scenes. */
  seed: number;
  /** Fewest items per scene (default 1). */
  minObjects?: number;
  /** Most items per scene (default 3). */
  maxObjects?: number;
  /**
   * An item pixel belongs to the item (is pasted, and labelled in the mask) when the
   * mean of its channels is above this (default 0.1): right for dark-background sources
   * such as MNIST and Fashion-MNIST.
   */
  threshold?: number;
  /** Output channels: the source's (default) or 3 (a gray source is copied to R, G, B). */
  channels?: 1 | 3;
  /**
   * Canvas: `black` (default), `texture` (the noise/stripes/gradient backgrounds of
   * {@link syntheticScenes}), or a dataset of real backgrounds (photos) of
   * `[size, size, channels]`, one drawn per scene (e.g. {@link loadFolderScan} of a folder
   * of photos at `size`).
   */
  background?: 'black' | 'texture' | Dataset;
}

interface Placement {
  source: number;
  x: number;
  y: number;
}

/**
 * A dataset of scenes made by pasting `minObjects..maxObjects` random items of `source`
 * (at their own size, at random positions; later items cover earlier ones) onto
 * `size x size` canvases. An item's mask is its pixels above `threshold`; only those are
 * pasted. Items have `masks` (0 = background, k+1 = source class k), `boxes` (visible
 * items, tight boxes) and a label: the class of the item with the most visible pixels
 * (if no pasted pixel is above the threshold, the last item's class, with an empty mask).
 * Scene `i` depends only on `(seed, i)`, the options and the source; scenes are built on
 * demand from the source.
 *
 * @throws when the source is unlabeled or larger than the canvas, or an option is out of
 *   range, naming it.
 */
export function pasteScenes(source: Dataset, options: PasteScenesOptions): Dataset {
  const { count, size, seed } = options;
  const minObjects = options.minObjects ?? 1;
  const maxObjects = options.maxObjects ?? 3;
  const threshold = options.threshold ?? 0.1;
  const background = options.background ?? 'black';
  const [sh, sw, sc] = source.imageShape;
  const channels = options.channels ?? sc;
  assertInteger(count, 1, 'pasteScenes: count');
  assertInteger(size, 1, 'pasteScenes: size');
  assertInteger(minObjects, 1, 'pasteScenes: minObjects');
  assertInteger(maxObjects, minObjects, 'pasteScenes: maxObjects (>= minObjects)');
  if (maxObjects > 32)
    throw new RangeError(`pasteScenes: maxObjects must be at most 32, got ${maxObjects}`);
  assertInRange(threshold, 0, 1, 'pasteScenes: threshold');
  if (!Number.isFinite(seed))
    throw new RangeError(`pasteScenes: seed must be a finite number, got ${String(seed)}`);
  const photos = typeof background === 'object' ? background : undefined;
  if (!photos && background !== 'black' && background !== 'texture') {
    throw new RangeError(
      `pasteScenes: background must be 'black', 'texture' or a dataset, got ${String(background)}`,
    );
  }
  if (source.numClasses < 1) {
    throw new Error(
      `pasteScenes: source ${source.name} is unlabeled (numClasses 0); expected a labeled single-object dataset`,
    );
  }
  if (source.size < 1) throw new Error(`pasteScenes: source ${source.name} is empty`);
  if (sh > size || sw > size) {
    throw new RangeError(
      `pasteScenes: size ${size} is smaller than the items of ${source.name} (${sh}x${sw}); expected size >= ${Math.max(sh, sw)}`,
    );
  }
  if (channels !== sc && !(channels === 3 && sc === 1)) {
    throw new RangeError(
      `pasteScenes: channels ${String(channels)} cannot be made from ${sc}-channel ${source.name}; expected ${sc}${sc === 1 ? ' or 3' : ''}`,
    );
  }
  if (photos) {
    const [bh, bw, bc] = photos.imageShape;
    if (bh !== size || bw !== size || bc !== channels || photos.size < 1) {
      throw new RangeError(
        `pasteScenes: background dataset ${photos.name} has ${photos.size} images of ${bh}x${bw}x${bc}, expected at least one of ${size}x${size}x${channels}`,
      );
    }
  }
  const root = new Rng(seed);
  const hw = size * size;
  const dataset: Dataset = {
    name: `pasteScenes(${source.name}, seed=${seed}${photos ? `, on ${photos.name}` : ''})`,
    size: count,
    imageShape: [size, size, channels],
    numClasses: source.numClasses,
    hasMasks: true,
    ...(source.classNames ? { classNames: source.classNames } : {}),
    get(indices: ArrayLike<number>): DatasetBatch {
      checkIndices(dataset, indices);
      const n = indices.length;
      const images = new Float32Array(n * hw * channels);
      const masks = new Int32Array(n * hw);
      const labels = new Int32Array(n);
      const boxes: ObjectBox[][] = [];
      const plans: Placement[][] = [];
      const wanted: number[] = [];
      for (let i = 0; i < n; i++) {
        const rng = root.fork(`scene:${indices[i] as number}`);
        if (background === 'texture')
          paintBackground(rng.fork('background'), images, i * hw * channels, size, size, channels);
        const k = minObjects + rng.int(maxObjects - minObjects + 1);
        const plan: Placement[] = [];
        for (let o = 0; o < k; o++) {
          const p = {
            source: rng.int(source.size),
            x: rng.int(size - sw + 1),
            y: rng.int(size - sh + 1),
          };
          plan.push(p);
          wanted.push(p.source);
        }
        plans.push(plan);
      }
      if (photos) {
        const picks = Array.from({ length: n }, (_, i) =>
          root
            .fork(`scene:${indices[i] as number}`)
            .fork('photo')
            .int(photos.size),
        );
        images.set(photos.get(picks).images);
      }
      const items = source.get(wanted);
      const itemPixels = sh * sw * sc;
      let item = 0;
      for (let i = 0; i < n; i++) {
        const instances = new Int16Array(hw).fill(-1);
        const classOf: number[] = [];
        for (const [o, p] of (plans[i] as Placement[]).entries()) {
          const y = items.labels[item] as number;
          if (!Number.isInteger(y) || y < 0 || y >= source.numClasses) {
            throw new RangeError(
              `pasteScenes: ${source.name} item ${p.source} has label ${y}, expected a class in [0, ${source.numClasses})`,
            );
          }
          classOf.push(y);
          const base = item * itemPixels;
          for (let r = 0; r < sh; r++) {
            for (let c = 0; c < sw; c++) {
              const src = base + (r * sw + c) * sc;
              let mean = 0;
              for (let k = 0; k < sc; k++) mean += items.images[src + k] as number;
              if (mean / sc <= threshold) continue;
              const q = (p.y + r) * size + p.x + c;
              const dst = (i * hw + q) * channels;
              for (let k = 0; k < channels; k++)
                images[dst + k] = items.images[src + (sc === 1 ? 0 : k)] as number;
              instances[q] = o;
            }
          }
          item++;
        }
        const scene = boxesFromInstances(instances, classOf, size, size);
        for (let q = 0; q < hw; q++) {
          const o = instances[q] as number;
          masks[i * hw + q] = o < 0 ? 0 : (classOf[o] as number) + 1;
        }
        // no item pixel above the threshold: keep the last item's class as the label
        labels[i] = scene.label >= 0 ? scene.label : (classOf[classOf.length - 1] as number);
        boxes.push(scene.boxes);
      }
      return { images, labels, masks, boxes };
    },
  };
  return dataset;
}
