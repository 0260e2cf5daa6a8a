/**
 * What a training loop reads: a run's training part as batches behind one asynchronous
 * interface, streamed for image folders (nothing decoded whole) and in memory for the
 * other sources, with the held-out part opened only when asked for.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { assertInteger } from '@ediy/core';
import { openDataParts, type DataSpec, type OpenDataPartsOptions } from './data-spec.js';
import { loadFolderScan } from './folder-dataset.js';
import { heldOutSample, splitImageFolder, type DataParts, type HeldOutKind } from './held-out.js';
import type { SkippedImage } from './image-folder.js';
import { Loader, type Batch, type LoaderPosition } from './loader.js';
import type { FolderScan } from './scan.js';
import { stratifiedSplit } from './stratified.js';
import {
  StreamingImageLoader,
  type StreamingLoaderOptions,
  type StreamingLoaderState,
} from './streaming.js';
import { toRgb } from './transforms.js';
import type { Dataset } from './types.js';

/** Files whose presence makes a folder an IDX or CIFAR dataset rather than a folder of images. */
const DATASET_FILES = [
  'train-images-idx3-ubyte',
  'train-images-idx3-ubyte.gz',
  'train-images.idx3-ubyte',
  'train-images.idx3-ubyte.gz',
  'data_batch_1.bin',
  'train.bin',
  'cifar-10-batches-bin',
];

/** Whether `path` is a folder of images (not of IDX or CIFAR files), which is streamed for training. */
export function isImageFolderPath(path: string): boolean {
  if (!existsSync(path) || !statSync(path).isDirectory()) return false;
  return !DATASET_FILES.some((f) => existsSync(join(path, f)));
}

/**
 * At most `max` items of a scan, stratified by class, seeded and in a shuffled order
 * (nothing decoded); the scan itself when `max` is not below its size.
 */
export function sampleScan(scan: FolderScan, max: number, seed = 0): FolderScan {
  if (!(max >= 1)) throw new RangeError(`sampleScan: max must be >= 1, got ${String(max)}`);
  if (!Number.isFinite(max) || max >= scan.items.length) return scan;
  assertInteger(max, 1, 'sampleScan: max');
  const { test } = stratifiedSplit(
    scan.items.map((i) => i.label),
    { testFraction: max / scan.items.length, seed, shuffle: true },
  );
  return {
    ...scan,
    items: Array.from(test.subarray(0, max), (k) => scan.items[k] as FolderScan['items'][number]),
  };
}

/** The resume state of {@link TrainingBatches}: a position, with what identifies a stream's items. */
export type TrainingBatchesState = LoaderPosition & Partial<StreamingLoaderState>;

/**
 * A training part as batches, read asynchronously: the in-memory {@link Loader} or the
 * {@link StreamingImageLoader} behind one interface. Batch `(epoch, index)` depends only
 * on the seed and the data.
 */
export interface TrainingBatches {
  /** Images per batch. */
  readonly batchSize: number;
  /** Batches per epoch (the last, smaller batch is left out). */
  readonly stepsPerEpoch: number;
  /** Whether images are decoded on the fly (an image folder) rather than held in memory. */
  readonly streamed: boolean;
  /** The position of the next batch. */
  position(): LoaderPosition;
  /** The resume state (JSON) to save with a checkpoint. */
  state(): TrainingBatchesState;
  /**
   * Continues from a saved state: the next batch is the one the saving run read next.
   * A stream's state also names its items; restoring it onto other items is an error.
   */
  restore(state: TrainingBatchesState): void;
  /** The next batch as tensors (the caller disposes them: {@link disposeBatch}). */
  next(): Promise<Batch>;
  /** Frees what the loader holds (a stream's decode threads). */
  close(): Promise<void>;
}

/** Options of {@link TrainingData.batches}. */
export interface TrainingBatchesOptions {
  /** Images per batch. */
  batchSize: number;
  /** Seed of the order. */
  seed: number;
  /** Batches a stream decodes ahead (default 2). */
  prefetch?: number;
  /** A stream's decode threads (default: the machine's cores, at most 4). */
  workers?: number;
  /** Called once for each image a stream fails to decode (it reads the next item in its place). */
  onUnreadable?: (image: SkippedImage) => void;
}

/** A run's data as a training loop reads it ({@link openTrainingData}). */
export interface TrainingData {
  /** Training items. */
  readonly size: number;
  /** How the held-out part was found. */
  readonly how: HeldOutKind;
  /** Whether the training part is streamed (an image folder) rather than held in memory. */
  readonly streamed: boolean;
  /** `[H, W, 3]` of a training image. */
  readonly imageShape: readonly [number, number, number];
  /** Unreadable images found when opening (a folder's header scan). */
  readonly unreadable: readonly SkippedImage[];
  /** One line (or more, with unreadable images) for the start of a command. */
  readonly report: string;
  /** The training part as batches. */
  batches(options: TrainingBatchesOptions): TrainingBatches;
  /**
   * At most `max` images of a part, decoded, stratified by class, seeded and shuffled
   * ({@link heldOutSample}); for a folder only those images are decoded.
   */
  sample(part: 'train' | 'heldOut', max: number, seed?: number): Promise<Dataset>;
}

/** Options of {@link openTrainingData}. */
export type OpenTrainingDataOptions = OpenDataPartsOptions;

class MemoryBatches implements TrainingBatches {
  readonly streamed = false;
  readonly batchSize: number;
  readonly stepsPerEpoch: number;
  private readonly loader: Loader;

  constructor(dataset: Dataset, options: TrainingBatchesOptions) {
    this.loader = new Loader(dataset, {
      batchSize: options.batchSize,
      seed: options.seed,
      shuffle: true,
      dropLast: true,
      prefetch: true,
    });
    this.batchSize = this.loader.batchSize;
    this.stepsPerEpoch = this.loader.stepsPerEpoch;
  }

  position(): LoaderPosition {
    return this.loader.position();
  }

  state(): TrainingBatchesState {
    return this.loader.position();
  }

  restore(state: TrainingBatchesState): void {
    this.loader.seek({ epoch: state?.epoch, index: state?.index });
  }

  next(): Promise<Batch> {
    return Promise.resolve(this.loader.next());
  }

  close(): Promise<void> {
    this.loader.dispose();
    return Promise.resolve();
  }
}

class StreamBatches implements TrainingBatches {
  readonly streamed = true;
  readonly batchSize: number;
  readonly stepsPerEpoch: number;
  private readonly loader: StreamingImageLoader;

  constructor(scan: FolderScan, options: StreamingLoaderOptions) {
    this.loader = new StreamingImageLoader(scan, options);
    this.batchSize = this.loader.batchSize;
    this.stepsPerEpoch = this.loader.stepsPerEpoch;
  }

  position(): LoaderPosition {
    return this.loader.position();
  }

  state(): TrainingBatchesState {
    return this.loader.state();
  }

  restore(state: TrainingBatchesState): void {
    // A bare position (a checkpoint of an older run) seeks; a full state is checked against the items.
    if (state?.fingerprint === undefined) this.loader.seek(state);
    else this.loader.restore(state as StreamingLoaderState);
  }

  next(): Promise<Batch> {
    return this.loader.next();
  }

  close(): Promise<void> {
    return this.loader.close();
  }
}

function memoryData(parts: DataParts): TrainingData {
  const [h, w, c] = parts.train.imageShape;
  return {
    size: parts.train.size,
    how: parts.how,
    streamed: false,
    imageShape: [h, w, c],
    unreadable: parts.unreadable,
    report: parts.report,
    batches: (options) => new MemoryBatches(parts.train, options),
    sample: (part, max, seed = 0) => {
      const d = part === 'train' ? parts.train : parts.heldOut;
      return Promise.resolve(
        heldOutSample(d, Number.isFinite(max) ? Math.min(max, d.size) : d.size, seed),
      );
    },
  };
}

/**
 * Opens a run's data for training. An image folder (any folder that is not IDX or CIFAR)
 * is split into training and held-out parts as {@link splitImageFolder} does, as scans:
 * its training part is streamed by {@link StreamingImageLoader} (decoded, centre-cropped
 * and resized to `spec.size`, default 32, on the fly in worker threads, a bounded number
 * of batches ahead), so memory does not grow with the folder, and its held-out part is
 * decoded only when {@link TrainingData.sample} asks for some of it. Other sources are
 * opened in memory by {@link openDataParts}. Either way the held-out part is never in
 * the training part.
 * @throws as {@link openDataParts} does, naming the path.
 */
export async function openTrainingData(
  spec: DataSpec,
  options: OpenTrainingDataOptions = {},
): Promise<TrainingData> {
  if (spec?.kind !== 'path' || !isImageFolderPath(spec.path)) {
    return memoryData(await openDataParts(spec, options));
  }
  const size = spec.size ?? 32;
  assertInteger(size, 1, 'openTrainingData: data size');
  const { heldOutCount: _unused, ...splitOptions } = options;
  const splits = await splitImageFolder(spec.path, splitOptions);
  const strict = options.strict ?? false;
  return {
    size: splits.train.items.length,
    how: splits.how,
    streamed: true,
    imageShape: [size, size, 3],
    unreadable: splits.unreadable,
    report: splits.report,
    batches: (o) =>
      new StreamBatches(splits.train, {
        size,
        batchSize: o.batchSize,
        seed: o.seed,
        crop: { kind: 'center' },
        channels: 3,
        strict,
        ...(o.prefetch !== undefined ? { prefetch: o.prefetch } : {}),
        ...(o.workers !== undefined ? { workers: o.workers } : {}),
        ...(o.onUnreadable ? { onUnreadable: o.onUnreadable } : {}),
      }),
    sample: async (part, max, seed = 0) => {
      const scan = sampleScan(part === 'train' ? splits.train : splits.heldOut, max, seed);
      const name = `${spec.path}[${part === 'train' ? 'train' : 'held-out'}]`;
      const decoded = toRgb(await loadFolderScan(scan, { size, name, strict }));
      return heldOutSample(decoded, decoded.size, seed);
    },
  };
}
