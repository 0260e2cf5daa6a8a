/**
 * What an evaluation reads: capped, stratified, seeded samples of a run's training part
 * (the kNN memory and probe training set) and of its held-out part (the scored images),
 * each read once, in order, in batches. An image folder is streamed (decoded, centre
 * cropped and resized in the decode threads of {@link StreamingImageLoader}, a bounded
 * number of batches ahead), so evaluating a folder of any size holds only a few batches
 * of pixels; the other sources are read from memory in chunks.
 */
import { availableParallelism } from 'node:os';
import { assertInteger } from '@ediy/core';
import { openDataParts, type DataSpec } from './data-spec.js';
import {
  heldOutSample,
  splitImageFolder,
  type HeldOutKind,
  type HeldOutOptions,
} from './held-out.js';
import type { SkippedImage } from './image-folder.js';
import type { FolderScan, ImageEntry } from './scan.js';
import { stratifiedSplit } from './stratified.js';
import { StreamingImageLoader } from './streaming.js';
import { isImageFolderPath } from './training-data.js';
import type { Dataset, DatasetBatch, ImageShape } from './types.js';

/** A set of images read once, in a fixed order, in batches (pixels in [0, 1]). */
export interface ImageStream {
  /** A short name for messages (the part and where it came from). */
  readonly name: string;
  /** Number of images. */
  readonly size: number;
  /** `[H, W, C]` of every image. */
  readonly imageShape: ImageShape;
  /** Number of label classes (0 when unlabeled). */
  readonly numClasses: number;
  /** Whether batches carry per-pixel `masks`. */
  readonly hasMasks: boolean;
  /** Whether the images are decoded on the fly from files rather than read from memory. */
  readonly streamed: boolean;
  /**
   * The images in order, `batchSize` at a time (the last batch may be smaller); every
   * call starts from the first image. Stopping early (a `break`) frees what the stream
   * holds (a folder's decode threads).
   */
  batches(batchSize: number): AsyncGenerator<DatasetBatch, void, undefined>;
}

/** Options of {@link openEvalParts}. */
export interface EvalPartsOptions extends HeldOutOptions {
  /** Most training images read (the kNN memory); `Infinity` for the whole training part. */
  memory: number;
  /** Most held-out images read (the scored images); `Infinity` for the whole held-out part. */
  scored: number;
  /** Seed of the samples (default 0); keep it fixed so every run of a table is scored on the same images. */
  seed?: number;
  /** Held-out scenes drawn for the embedded scenes (as {@link openDataParts}). */
  heldOutCount?: number;
  /** Unreadable images are errors (default false: left out and reported). */
  strict?: boolean;
  /** A folder's decode threads (default: the machine's cores, at most 4). */
  workers?: number;
  /** Batches a folder's stream decodes ahead (default 2). */
  prefetch?: number;
}

/** A run's data as an evaluation reads it ({@link openEvalParts}). */
export interface EvalParts {
  /** The sample of the training part: kNN memory and probe training set. */
  train: ImageStream;
  /** The sample of the held-out part: the scored images, never in the training part. */
  heldOut: ImageStream;
  /** How the held-out part was found. */
  how: HeldOutKind;
  /** Sizes of the whole parts, before sampling. */
  sizes: { train: number; heldOut: number };
  /** Unreadable images found when opening (a folder's header scan). */
  unreadable: readonly SkippedImage[];
  /** Lines for the start of a command: the parts, the samples, unreadable images. */
  report: string;
}

function checkCap(value: number, name: string): void {
  if (value === Infinity) return;
  assertInteger(value, 1, `openEvalParts: ${name}`);
}

/**
 * At most `max` items of a scan, stratified by class and seeded, always in a shuffled
 * order (also when `max` is not below the scan's size), so consecutive batches mix the
 * classes.
 */
export function shuffledSample(
  items: readonly ImageEntry[],
  max: number,
  seed = 0,
): readonly ImageEntry[] {
  if (!(max >= 1)) throw new RangeError(`shuffledSample: max must be >= 1, got ${String(max)}`);
  const take = Math.min(max, items.length);
  const { test } = stratifiedSplit(
    items.map((i) => i.label),
    { testFraction: take >= items.length ? 1 : take / items.length, seed, shuffle: true },
  );
  return Array.from(test.subarray(0, take), (k) => items[k] as ImageEntry);
}

/** Streams of at most this many images decode in one thread (default of {@link fileStream}'s `workers`). */
const SMALL_STREAM = 256;

/** The streaming loader's default decode threads: the machine's cores, at most 4. */
function defaultWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/**
 * A stream over image files: decoded, centre cropped (the largest centred square) and
 * resized to `size` in decode threads, `prefetch` batches ahead. An image that fails to
 * decode is replaced by the next one (and reported through `onUnreadable`), or is an
 * error with `strict`. `workers` defaults to one thread for up to 256 images, else the
 * machine's cores (at most 4).
 */
export function fileStream(
  items: readonly ImageEntry[],
  options: {
    name: string;
    size: number;
    numClasses: number;
    strict?: boolean;
    workers?: number;
    prefetch?: number;
    onUnreadable?: (image: SkippedImage) => void;
  },
): ImageStream {
  assertInteger(options.size, 1, 'fileStream: size');
  if (items.length === 0) throw new Error(`${options.name}: no images to stream`);
  return {
    name: options.name,
    size: items.length,
    imageShape: [options.size, options.size, 3],
    numClasses: options.numClasses,
    hasMasks: false,
    streamed: true,
    async *batches(batchSize: number) {
      assertInteger(batchSize, 1, `${options.name}: batchSize`);
      const loader = new StreamingImageLoader(items, {
        size: options.size,
        batchSize,
        seed: 0,
        crop: { kind: 'center' },
        shuffle: false,
        dropLast: false,
        numClasses: options.numClasses,
        ...(options.strict !== undefined ? { strict: options.strict } : {}),
        // a few batches' worth of images: one decode thread is enough, and starts sooner
        workers: options.workers ?? (items.length <= SMALL_STREAM ? 1 : defaultWorkers()),
        ...(options.prefetch !== undefined ? { prefetch: options.prefetch } : {}),
        ...(options.onUnreadable ? { onUnreadable: options.onUnreadable } : {}),
      });
      try {
        for (let b = 0; b < loader.stepsPerEpoch; b++) {
          const { images, labels } = await loader.nextArrays();
          yield { images, labels };
        }
      } finally {
        await loader.close();
      }
    },
  };
}

/** A stream over an in-memory dataset, read in chunks of `batchSize` with {@link Dataset.get}. */
export function datasetStream(dataset: Dataset, name = dataset.name): ImageStream {
  return {
    name,
    size: dataset.size,
    imageShape: dataset.imageShape,
    numClasses: dataset.numClasses,
    hasMasks: dataset.hasMasks,
    streamed: false,
    async *batches(batchSize: number) {
      assertInteger(batchSize, 1, `${name}: batchSize`);
      for (let start = 0; start < dataset.size; start += batchSize) {
        const n = Math.min(batchSize, dataset.size - start);
        const b = dataset.get(Array.from({ length: n }, (_, i) => start + i));
        yield { images: b.images, labels: b.labels, ...(b.masks ? { masks: b.masks } : {}) };
      }
    },
  };
}

function sampleLine(train: ImageStream, heldOut: ImageStream): string {
  return `evaluation: ${train.size} training images as memory, ${heldOut.size} held-out images scored`;
}

/**
 * Opens a run's data for evaluation: its training and held-out parts as the one
 * held-out logic decides them ({@link splitImageFolder} for an image folder, else
 * {@link openDataParts}), then at most `memory` training and `scored` held-out images of
 * each, stratified by class, seeded and shuffled. For an image folder nothing is decoded
 * here: only the sampled files are read, when their stream is.
 * @throws naming the path as the openers do, or a cap that is not an integer >= 1 (or `Infinity`).
 */
export async function openEvalParts(spec: DataSpec, options: EvalPartsOptions): Promise<EvalParts> {
  checkCap(options?.memory, 'memory');
  checkCap(options.scored, 'scored');
  const seed = options.seed ?? 0;
  const heldOutOptions: HeldOutOptions = {
    ...(options.heldOutFraction !== undefined ? { heldOutFraction: options.heldOutFraction } : {}),
    ...(options.splitSeed !== undefined ? { splitSeed: options.splitSeed } : {}),
  };
  if (spec?.kind === 'path' && isImageFolderPath(spec.path)) {
    const splits = await splitImageFolder(spec.path, {
      ...heldOutOptions,
      ...(options.strict !== undefined ? { strict: options.strict } : {}),
    });
    const size = spec.size ?? 32;
    const stream = (scan: FolderScan, max: number, part: string): ImageStream =>
      fileStream(shuffledSample(scan.items, max, seed), {
        name: `${spec.path}[${part}]`,
        size,
        numClasses: scan.classNames.length,
        ...(options.strict !== undefined ? { strict: options.strict } : {}),
        ...(options.workers !== undefined ? { workers: options.workers } : {}),
        ...(options.prefetch !== undefined ? { prefetch: options.prefetch } : {}),
      });
    const train = stream(splits.train, options.memory, 'train');
    const heldOut = stream(splits.heldOut, options.scored, 'held-out');
    return {
      train,
      heldOut,
      how: splits.how,
      sizes: { train: splits.train.items.length, heldOut: splits.heldOut.items.length },
      unreadable: splits.unreadable,
      report: `${splits.report}; ${sampleLine(train, heldOut)}`,
    };
  }
  const parts = await openDataParts(spec, {
    ...heldOutOptions,
    ...(options.heldOutCount !== undefined ? { heldOutCount: options.heldOutCount } : {}),
    ...(options.strict !== undefined ? { strict: options.strict } : {}),
  });
  const take = (d: Dataset, max: number): ImageStream =>
    datasetStream(heldOutSample(d, Math.min(max, d.size), seed));
  const train = take(parts.train, options.memory);
  const heldOut = take(parts.heldOut, options.scored);
  return {
    train,
    heldOut,
    how: parts.how,
    sizes: { train: parts.train.size, heldOut: parts.heldOut.size },
    unreadable: parts.unreadable,
    report: `${parts.report}; ${sampleLine(train, heldOut)}`,
  };
}
