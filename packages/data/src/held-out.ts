/**
 * The one place where held-out data is decided. A source that ships a train/test split
 * (IDX `train-*` / `t10k-*`, CIFAR `data_batch_*` / `test_batch`, `train.bin` / `test.bin`,
 * an image folder's `train/` + `val/` or `test/`) uses it; any other source is split
 * once, seeded and stratified by class, and its held-out part is left out of the
 * training part. The embedded scenes hold out scenes of another seed.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { assertInRange, assertInteger } from '@ediy/core';
import { loadCifar } from './cifar.js';
import { loadFolderScan } from './folder-dataset.js';
import { loadIdx } from './idx.js';
import type { SkippedImage } from './image-folder.js';
import { formatUnreadable, scanImageFolder, type FolderScan, type ScanOptions } from './scan.js';
import { stratifiedSplit } from './stratified.js';
import { subset } from './transforms.js';
import type { Dataset } from './types.js';

/** Added to the embedded scenes' seed to draw their held-out scenes (so they never coincide with the training scenes). */
export const HELD_OUT_SEED_OFFSET = 1_000_003;

/** Share of a source without its own split that is held out (20%). */
export const HELD_OUT_FRACTION = 0.2;

/** How the held-out part was found. */
export type HeldOutKind =
  /** the source's own test files (IDX, CIFAR) */
  | 'files'
  /** the folder's `train/` and `val/` (or `test/`) subfolders */
  | 'folders'
  /** a seeded, stratified split of a source without its own */
  | 'split'
  /** embedded scenes of another seed */
  | 'seed';

/** Options of the seeded held-out split, for sources that have no split of their own. */
export interface HeldOutOptions {
  /** Share of each class held out, in (0, 1) (default {@link HELD_OUT_FRACTION}). */
  heldOutFraction?: number;
  /** Seed of the split (default 0). It is a property of the data, not of a run: keep it fixed across runs. */
  splitSeed?: number;
}

function heldOutSettings(options: HeldOutOptions): { fraction: number; seed: number } {
  const fraction = options.heldOutFraction ?? HELD_OUT_FRACTION;
  if (!(typeof fraction === 'number' && fraction > 0 && fraction < 1)) {
    throw new RangeError(`heldOutFraction must be in (0, 1), got ${String(fraction)}`);
  }
  const seed = options.splitSeed ?? 0;
  if (!Number.isFinite(seed))
    throw new RangeError(`splitSeed must be a finite number, got ${String(seed)}`);
  return { fraction, seed };
}

/** A folder's training and held-out images, as scans (nothing decoded). */
export interface FolderSplits {
  /** The images to train on. */
  train: FolderScan;
  /** The held-out images, never in `train`. */
  heldOut: FolderScan;
  /** `folders` (train/ + val/ or test/) or `split`. */
  how: 'folders' | 'split';
  /** Every unreadable image of the folder(s), with the reason. */
  unreadable: readonly SkippedImage[];
  /** A report for the start of a command: the parts' sizes and the unreadable images with a count. */
  report: string;
}

function isDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/**
 * Splits a scan's items into training and held-out parts by {@link stratifiedSplit}
 * (each class split in proportion, seeded). The unreadable list stays with `train`.
 */
export function splitScan(
  scan: FolderScan,
  options: HeldOutOptions = {},
): { train: FolderScan; heldOut: FolderScan } {
  const { fraction, seed } = heldOutSettings(options);
  const { train, test } = stratifiedSplit(
    scan.items.map((i) => i.label),
    { testFraction: fraction, seed },
  );
  const pick = (idx: Int32Array) =>
    Array.from(idx, (k) => scan.items[k] as FolderScan['items'][number]);
  return {
    train: { ...scan, items: pick(train) },
    heldOut: { ...scan, items: pick(test), unreadable: [], total: test.length },
  };
}

/**
 * The training and held-out images of an image folder: `dir/train` with `dir/val` (or
 * else `dir/test`) when both are folders, the ImageNet layout (the held-out folder gets
 * the training folder's class indices); otherwise the folder (or its lone `train/`) split
 * by {@link splitScan}. Nothing is decoded: pass `train` to {@link StreamingImageLoader}
 * and `heldOut` to {@link loadFolderScan} or another streaming loader.
 * @throws as {@link scanImageFolder} does, naming the folder.
 */
export async function splitImageFolder(
  dir: string,
  options: HeldOutOptions & ScanOptions = {},
): Promise<FolderSplits> {
  heldOutSettings(options);
  const heldOutDir = ['val', 'test'].map((d) => join(dir, d)).find(isDir);
  let out: { train: FolderScan; heldOut: FolderScan; how: 'folders' | 'split' };
  if (isDir(join(dir, 'train')) && heldOutDir) {
    const train = await scanImageFolder(join(dir, 'train'), options);
    const heldOut = await scanImageFolder(heldOutDir, {
      ...options,
      ...(train.classNames.length > 0 ? { classNames: train.classNames } : {}),
    });
    out = { train, heldOut, how: 'folders' };
  } else {
    const root = isDir(join(dir, 'train')) ? join(dir, 'train') : dir;
    out = { ...splitScan(await scanImageFolder(root, options), options), how: 'split' };
  }
  const unreadable = [...out.train.unreadable, ...out.heldOut.unreadable];
  const lines = [
    `${dir}: ${out.train.items.length} training and ${out.heldOut.items.length} held-out images (${
      out.how === 'folders'
        ? `held out: ${out.heldOut.root}`
        : `held out: a seeded ${Math.round(heldOutSettings(options).fraction * 100)}% of each class`
    })`,
  ];
  for (const part of [out.train, out.heldOut]) {
    const r = formatUnreadable(part);
    if (r) lines.push(r);
  }
  return { ...out, unreadable, report: lines.join('\n') };
}

/** A source's training and held-out datasets, in memory. */
export interface DataParts {
  /** The data to pre-train on; never holds a held-out item. */
  train: Dataset;
  /** The held-out data, for evaluation. */
  heldOut: Dataset;
  /** How the held-out part was found. */
  how: HeldOutKind;
  /** Unreadable images of an image folder (empty for other sources). */
  unreadable: readonly SkippedImage[];
  /** One line (or more, with unreadable images) for the start of a command. */
  report: string;
}

/** Options of {@link openPathParts}. */
export interface OpenPartsOptions extends HeldOutOptions {
  /** Side image-folder images are resized to (default 32). */
  size?: number;
  /** Unreadable images are errors (default false: they are left out and reported). */
  strict?: boolean;
}

function findFile(dir: string, names: readonly string[]): string | undefined {
  return names.flatMap((n) => [join(dir, n), join(dir, `${n}.gz`)]).find((p) => existsSync(p));
}

const IDX_TRAIN = ['train-images-idx3-ubyte', 'train-images.idx3-ubyte'];
const IDX_TEST = ['t10k-images-idx3-ubyte', 't10k-images.idx3-ubyte'];
const labelsOf = (images: string): string =>
  join(dirname(images), basename(images).replace('images', 'labels').replace('idx3', 'idx1'));

async function openIdx(images: string): Promise<Dataset> {
  const labels = labelsOf(images);
  if (!existsSync(labels)) throw new Error(`${images}: its labels file ${labels} was not found`);
  return loadIdx(images, labels, { channels: 3 });
}

function splitParts(
  all: Dataset,
  labels: ArrayLike<number>,
  options: HeldOutOptions,
  what: string,
): DataParts {
  const { fraction, seed } = heldOutSettings(options);
  const { train, test } = stratifiedSplit(labels, { testFraction: fraction, seed });
  return {
    train: subset(all, train, `${all.name}[train]`),
    heldOut: subset(all, test, `${all.name}[held-out]`),
    how: 'split',
    unreadable: [],
    report: `${what}: ${train.length} training and ${test.length} held-out images (held out: a seeded ${Math.round(fraction * 100)}% of each class)`,
  };
}

function fileParts(train: Dataset, heldOut: Dataset, what: string): DataParts {
  return {
    train,
    heldOut,
    how: 'files',
    unreadable: [],
    report: `${what}: ${train.size} training and ${heldOut.size} held-out images (held out: ${heldOut.name})`,
  };
}

/**
 * The labels of every item of a dataset, read in chunks (the images read alongside are
 * dropped, so memory stays small).
 */
export function datasetLabels(dataset: Dataset, chunk = 512): Int32Array {
  assertInteger(chunk, 1, 'datasetLabels: chunk');
  const out = new Int32Array(dataset.size);
  for (let start = 0; start < dataset.size; start += chunk) {
    const n = Math.min(chunk, dataset.size - start);
    out.set(dataset.get(Array.from({ length: n }, (_, i) => start + i)).labels, start);
  }
  return out;
}

/**
 * Opens the training and held-out parts of the data at `path`, every image with three
 * channels: IDX and CIFAR train/test files, an image folder's `train/` + `val/`
 * (or `test/`), or else a seeded stratified split (of a lone IDX or CIFAR file, or a
 * plain image folder). Image folders are decoded into memory with sharp at `size`; for
 * folders too large to hold, use {@link splitImageFolder} and the streaming loader.
 * @throws naming the path when nothing there is a dataset.
 */
export async function openPathParts(
  path: string,
  options: OpenPartsOptions = {},
): Promise<DataParts> {
  heldOutSettings(options);
  const size = options.size ?? 32;
  assertInteger(size, 1, 'openPathParts: size');
  if (!existsSync(path)) {
    throw new Error(`${path}: data path not found (expected a dataset file or folder)`);
  }
  const split = async (all: Dataset): Promise<DataParts> =>
    splitParts(all, datasetLabels(all), options, path);
  if (statSync(path).isFile()) {
    const name = basename(path);
    if (/idx3-ubyte(\.gz)?$/.test(name)) {
      const test = name.startsWith('train') ? findFile(dirname(path), IDX_TEST) : undefined;
      if (test) return fileParts(await openIdx(path), await openIdx(test), path);
      return split(await openIdx(path));
    }
    if (name.endsWith('.bin')) {
      const variant = /^(train|test)\.bin$/.test(name) ? 100 : 10;
      const testName = variant === 100 ? 'test.bin' : 'test_batch.bin';
      const test = join(dirname(path), testName);
      if (name !== testName && existsSync(test)) {
        return fileParts(
          await loadCifar(path, { variant }),
          await loadCifar(test, { variant }),
          path,
        );
      }
      return split(await loadCifar(path, { variant }));
    }
    throw new Error(
      `${path}: unrecognised data file (expected an IDX images file, a CIFAR .bin batch, or a folder)`,
    );
  }
  const inner = join(path, 'cifar-10-batches-bin');
  const dir = existsSync(join(inner, 'data_batch_1.bin')) ? inner : path;
  const idxTrain = findFile(dir, IDX_TRAIN);
  if (idxTrain) {
    const idxTest = findFile(dir, IDX_TEST);
    if (idxTest) return fileParts(await openIdx(idxTrain), await openIdx(idxTest), path);
    return split(await openIdx(idxTrain));
  }
  if (existsSync(join(dir, 'data_batch_1.bin'))) {
    const batches = readdirSync(dir)
      .filter((f) => /^data_batch_\d+\.bin$/.test(f))
      .sort()
      .map((f) => join(dir, f));
    const all = await loadCifar(batches, { variant: 10 });
    const test = join(dir, 'test_batch.bin');
    if (existsSync(test)) return fileParts(all, await loadCifar(test, { variant: 10 }), path);
    return split(all);
  }
  if (existsSync(join(dir, 'train.bin'))) {
    const all = await loadCifar(join(dir, 'train.bin'), { variant: 100 });
    const test = join(dir, 'test.bin');
    if (existsSync(test)) return fileParts(all, await loadCifar(test, { variant: 100 }), path);
    return split(all);
  }
  const folder = await splitImageFolder(path, {
    ...options,
    ...(options.strict !== undefined ? { strict: options.strict } : {}),
  });
  const load = (scan: FolderScan, part: string) =>
    loadFolderScan(scan, {
      size,
      name: `${path}[${part}]`,
      ...(options.strict !== undefined ? { strict: options.strict } : {}),
    });
  return {
    train: await load(folder.train, 'train'),
    heldOut: await load(folder.heldOut, 'held-out'),
    how: folder.how,
    unreadable: folder.unreadable,
    report: folder.report,
  };
}

/**
 * At most `max` items of a held-out dataset, chosen stratified by class and seeded, in
 * a shuffled order: use it instead of "the first `max` items", which on class-sorted
 * data is one class.
 */
export function heldOutSample(dataset: Dataset, max: number, seed = 0): Dataset {
  assertInteger(max, 1, 'heldOutSample: max');
  assertInRange(seed, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'heldOutSample: seed');
  const labels = datasetLabels(dataset);
  if (max >= dataset.size) {
    const { test } = stratifiedSplit(labels, { testFraction: 1, seed, shuffle: true });
    return subset(dataset, test, `${dataset.name}[sample]`);
  }
  const { test } = stratifiedSplit(labels, {
    testFraction: max / dataset.size,
    seed,
    shuffle: true,
  });
  return subset(dataset, test.subarray(0, max), `${dataset.name}[sample]`);
}
