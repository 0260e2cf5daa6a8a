/**
 * The scenes builder on real pixels: items of a labeled single-object source (e.g.
 * Fashion-MNIST) pasted with their masks onto backgrounds, the training scenes from the
 * source's training items and the held-out scenes from its held-out items.
 */
import { assertInteger } from '@ediy/core';
import { loadFolderScan } from './folder-dataset.js';
import {
  HELD_OUT_SEED_OFFSET,
  openPathParts,
  splitScan,
  type DataParts,
  type HeldOutOptions,
} from './held-out.js';
import { pasteScenes, type PasteScenesOptions } from './paste.js';
import { formatUnreadable, scanImageFolder } from './scan.js';
import type { Dataset } from './types.js';

/** Scenes pasted from the items at a path (the CLI's `--data scenes:<path>`). */
export interface PastedScenesSpec {
  /** Scenes pasted from the items of a dataset on disk. */
  kind: 'pasted';
  /** The items: anything {@link openPathParts} reads (IDX, CIFAR, an image folder). */
  path: string;
  /** Number of training scenes. */
  count: number;
  /** Canvas side in pixels (at least the items' side). */
  size: number;
  /** Scene seed; the held-out scenes use `seed + HELD_OUT_SEED_OFFSET`. */
  seed: number;
  /** Held-out scenes (default `max(64, round(count / 4))`). */
  heldOutCount?: number;
  /** Side image-folder items are resized to (default 28). */
  itemSize?: number;
  /** Fewest items per scene (default 1). */
  minObjects?: number;
  /** Most items per scene (default 3). */
  maxObjects?: number;
  /** Item pixels above this mean value are pasted and masked (default 0.1, for dark-background items). */
  threshold?: number;
  /**
   * `black` (default), `texture`, or a folder of photos (any depth, unlabeled), centre-cropped
   * to the canvas; its photos are split like the items, held-out scenes on held-out photos.
   */
  background?: 'black' | 'texture' | { folder: string };
}

async function backgrounds(
  spec: PastedScenesSpec,
  options: HeldOutOptions & { strict?: boolean },
): Promise<{ train: Dataset; heldOut: Dataset; report: string } | undefined> {
  const bg = spec.background;
  if (bg === undefined || bg === 'black' || bg === 'texture') return undefined;
  if (typeof bg?.folder !== 'string') {
    throw new TypeError(
      `pasted scenes: background must be 'black', 'texture' or { folder }, got ${JSON.stringify(bg)}`,
    );
  }
  const scan = await scanImageFolder(bg.folder, {
    labeled: 'none',
    ...(options.strict !== undefined ? { strict: options.strict } : {}),
  });
  if (scan.items.length < 2) {
    throw new Error(
      `${bg.folder}: ${scan.items.length} readable background photo(s); expected at least 2 (one for training, one held out)`,
    );
  }
  const parts = splitScan(scan, options);
  const load = (s: typeof scan, part: string) =>
    loadFolderScan(s, { size: spec.size, name: `${bg.folder}[${part}]` });
  const report = [
    `${bg.folder}: ${parts.train.items.length} training and ${parts.heldOut.items.length} held-out backgrounds`,
    formatUnreadable(scan),
  ]
    .filter(Boolean)
    .join('\n');
  return {
    train: await load(parts.train, 'train'),
    heldOut: await load(parts.heldOut, 'held-out'),
    report,
  };
}

/**
 * Opens the source at `spec.path` as training and held-out items (by the rules of
 * {@link openPathParts}) and pastes each part onto canvases with {@link pasteScenes}
 * (three channels; masks `0` background, `k + 1` item class `k`; boxes), so held-out
 * scenes are made of items and backgrounds that no training scene contains.
 * @throws naming the path or option when the source cannot be read or does not fit.
 */
export async function openPastedScenes(
  spec: PastedScenesSpec,
  options: HeldOutOptions & { strict?: boolean } = {},
): Promise<DataParts> {
  assertInteger(spec?.count, 1, 'pasted scenes: count');
  assertInteger(spec.size, 1, 'pasted scenes: size');
  const heldOutCount = spec.heldOutCount ?? Math.max(64, Math.round(spec.count / 4));
  assertInteger(heldOutCount, 1, 'pasted scenes: heldOutCount');
  const items = await openPathParts(spec.path, { ...options, size: spec.itemSize ?? 28 });
  const bg = await backgrounds(spec, options);
  const common: Omit<PasteScenesOptions, 'count' | 'seed'> = {
    size: spec.size,
    channels: 3,
    ...(spec.minObjects !== undefined ? { minObjects: spec.minObjects } : {}),
    ...(spec.maxObjects !== undefined ? { maxObjects: spec.maxObjects } : {}),
    ...(spec.threshold !== undefined ? { threshold: spec.threshold } : {}),
  };
  const canvas = (part: 'train' | 'heldOut') =>
    bg ? bg[part] : spec.background === 'texture' ? 'texture' : 'black';
  const train = pasteScenes(items.train, {
    ...common,
    count: spec.count,
    seed: spec.seed,
    background: canvas('train'),
  });
  const heldOut = pasteScenes(items.heldOut, {
    ...common,
    count: heldOutCount,
    seed: spec.seed + HELD_OUT_SEED_OFFSET,
    background: canvas('heldOut'),
  });
  return {
    train,
    heldOut,
    how: items.how,
    unreadable: items.unreadable,
    report: [
      `scenes pasted from ${items.report}: ${train.size} training and ${heldOut.size} held-out scenes`,
      bg?.report ?? '',
    ]
      .filter(Boolean)
      .join('\n'),
  };
}
