/**
 * The streaming image-folder loader: images are decoded, cropped and resized on the fly
 * in worker threads with sharp (libvips), a bounded number of batches ahead, so memory
 * does not grow with the folder; seeded, with an exact, saveable resume position.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, Rng } from '@ediy/core';
import { checkCropSpec, cropBox, type CropBox, type CropSpec } from './crop.js';
import type { DecodeRequest, DecodeResponse } from './decode-protocol.js';
import type { SkippedImage } from './image-folder.js';
import type { ArrayBatch, Batch, LoaderPosition } from './loader.js';
import type { FolderScan, ImageEntry } from './scan.js';

/** Options of {@link StreamingImageLoader}. */
export interface StreamingLoaderOptions {
  /** Output side in pixels: every image becomes `size x size`. */
  size: number;
  /** Images per batch. */
  batchSize: number;
  /** Seed of the order and of the crops: batch `(epoch, index)` depends only on it, the items and the options. */
  seed: number;
  /** How each image is cut before the resize (default `{ kind: 'random-resized' }`, BYOL's scale 0.08-1). */
  crop?: CropSpec;
  /** Mirror each image left-right with probability 0.5 (default false). */
  flip?: boolean;
  /** Shuffle every epoch (default true). */
  shuffle?: boolean;
  /** Leave out the last, smaller batch of an epoch (default true). */
  dropLast?: boolean;
  /** Output channels: 3 (default, sRGB) or 1 (luminance). */
  channels?: 1 | 3;
  /**
   * Batches decoded ahead (default 2, at least 1). The loader never holds more than this
   * many batches, decoding or decoded, that it has not handed out.
   */
  prefetch?: number;
  /** Decode threads (default: the machine's cores, at most 4). */
  workers?: number;
  /**
   * When an image fails to decode: `false` (default) reads the next item of the dataset
   * in its place (deterministic) and reports the file in {@link StreamingImageLoader.unreadable};
   * `true` makes it an error naming the file.
   */
  strict?: boolean;
  /** Number of classes (default: the scan's class names, else 0 for unlabeled items). */
  numClasses?: number;
  /** Called once for each image that fails to decode (not with `strict`). */
  onUnreadable?: (image: SkippedImage) => void;
}

/** A batch of the streaming loader as JS arrays (the caller owns them). */
export interface StreamArrayBatch extends ArrayBatch {
  /** The box cut from each image, in pixels of its oriented source. */
  crops: CropBox[];
  /** Whether each image was mirrored. */
  flipped: boolean[];
}

/** A batch of the streaming loader as tensors (the caller disposes them, see {@link disposeBatch}). */
export interface StreamBatch extends Batch {
  /** The box cut from each image, in pixels of its oriented source. */
  crops: CropBox[];
  /** Whether each image was mirrored. */
  flipped: boolean[];
}

/**
 * A saveable resume state (JSON): the position plus what identifies the items and the
 * seed, so restoring it onto other data is an error rather than a silent change.
 */
export interface StreamingLoaderState extends LoaderPosition {
  /** The loader's seed. */
  seed: number;
  /** Number of items. */
  size: number;
  /** A hash of the item paths and labels, in order. */
  fingerprint: string;
}

/** Counters of what a {@link StreamingImageLoader} holds. */
export interface StreamingLoaderStats {
  /** Batches decoding or decoded, not yet handed out. */
  held: number;
  /** The most batches ever held at once (never above `prefetch`). */
  maxHeld: number;
  /** Batches handed out. */
  delivered: number;
  /** Images decoded (replacements of unreadable ones included). */
  decoded: number;
}

interface Pending {
  at: LoaderPosition;
  promise: Promise<StreamArrayBatch>;
}

/** FNV-1a over the item paths and labels, as 8 hex digits. */
function fingerprintOf(items: readonly ImageEntry[]): string {
  let h = 0x811c9dc5;
  for (const item of items) {
    const s = `${item.path}\u0000${item.label}\u0001`;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h.toString(16).padStart(8, '0');
}

/** The decode thread: the compiled entry, or from the TypeScript sources (tests, benchmarks) through tsx. */
function startWorker(): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./decode-worker.js', self));
  let api: string;
  try {
    api = createRequire(self).resolve('tsx/esm/api');
  } catch {
    throw new Error(
      '@ediy/data runs from its TypeScript sources here, and its decode threads need tsx to load them: install tsx',
    );
  }
  const tsx = pathToFileURL(api.replace(/\.cjs$/, '.mjs')).href;
  const tsconfig = fileURLToPath(new URL('../tsconfig.json', self));
  const options = existsSync(tsconfig) ? `{ tsconfig: ${JSON.stringify(tsconfig)} }` : '{}';
  const entry = new URL('./decode-worker.ts', self).href;
  const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(${options}); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true });
}

/**
 * Streams a folder of images (a {@link FolderScan}, or any list of {@link ImageEntry})
 * in batches, decoding, cropping and resizing each image on the fly in worker threads
 * with sharp. Memory is bounded: at most `prefetch` batches are held (decoding or
 * decoded) beyond those handed out, whatever the folder's size.
 *
 * Epoch `e` visits the items in a seeded permutation of `(seed, e)` (as {@link Loader});
 * the crop and flip of the item at place `p` of epoch `e` come from a stream seeded by
 * `(seed, e, p)`. So batch `(epoch, index)` is the same in every run, in whatever order
 * the threads finish, and {@link StreamingImageLoader.state} /
 * {@link StreamingImageLoader.restore} resume a run exactly.
 *
 * Call {@link StreamingImageLoader.close} when done: it stops the threads.
 *
 * @example
 * ```ts
 * const scan = await scanImageFolder('imagenet/train');
 * const loader = new StreamingImageLoader(scan, { size: 224, batchSize: 64, seed: 0 });
 * for (let step = 0; step < 100; step++) {
 *   const batch = await loader.next(); // images [64,224,224,3] in [0, 1]
 *   train(batch);
 *   disposeBatch(batch);
 * }
 * const saved = loader.state(); // JSON; later: loader.restore(saved)
 * await loader.close();
 * ```
 */
export class StreamingImageLoader {
  /** The items read, in dataset order (index `i` is item `i`). */
  readonly items: readonly ImageEntry[];
  /** Images per batch. */
  readonly batchSize: number;
  /** Batches per epoch: `floor(n / batchSize)` with `dropLast`, else `ceil`. */
  readonly stepsPerEpoch: number;
  /** `[size, size, channels]` of every output image. */
  readonly imageShape: readonly [number, number, 1 | 3];
  /** Number of label classes (0 when unlabeled). */
  readonly numClasses: number;
  /** Batches decoded ahead. */
  readonly prefetch: number;
  /** Images that failed to decode so far (each once), with the reason. */
  readonly unreadable: SkippedImage[] = [];
  private readonly seed: number;
  private readonly crop: CropSpec;
  private readonly flip: boolean;
  private readonly shuffle: boolean;
  private readonly strict: boolean;
  private readonly name: string;
  private readonly fingerprint: string;
  private readonly workerCount: number;
  private readonly onUnreadable: ((image: SkippedImage) => void) | undefined;
  private workers: Worker[] = [];
  private readonly waiting = new Map<
    number,
    { resolve: (r: DecodeResponse) => void; reject: (e: Error) => void }
  >();
  private nextId = 0;
  private epochNumber = 0;
  private batchIndex = 0;
  private orderEpoch = -1;
  private order: Int32Array = new Int32Array(0);
  private queue: Pending[] = [];
  private stale: Promise<unknown>[] = [];
  private calls: Promise<unknown> = Promise.resolve();
  private readonly busy = new Map<Worker, number>();
  private closed = false;
  private failure: Error | undefined;
  private readonly counters: StreamingLoaderStats = {
    held: 0,
    maxHeld: 0,
    delivered: 0,
    decoded: 0,
  };

  /** @throws naming the option when one is out of range, or when no batch fits in the items. */
  constructor(source: FolderScan | readonly ImageEntry[], options: StreamingLoaderOptions) {
    const items = Array.isArray(source) ? source : (source as FolderScan).items;
    this.name = Array.isArray(source) ? 'StreamingImageLoader' : (source as FolderScan).root;
    if (!Array.isArray(items) || items.length === 0) {
      throw new RangeError(`StreamingImageLoader: ${this.name} has no items`);
    }
    const size = options?.size;
    assertInteger(size, 1, 'StreamingImageLoader: size');
    assertInteger(options.batchSize, 1, 'StreamingImageLoader: batchSize');
    if (!Number.isFinite(options.seed)) {
      throw new RangeError(
        `StreamingImageLoader: seed must be a finite number, got ${String(options.seed)}`,
      );
    }
    const channels = options.channels ?? 3;
    if (channels !== 1 && channels !== 3) {
      throw new RangeError(
        `StreamingImageLoader: channels must be 1 or 3, got ${String(channels)}`,
      );
    }
    this.prefetch = options.prefetch ?? 2;
    assertInteger(this.prefetch, 1, 'StreamingImageLoader: prefetch');
    this.workerCount = options.workers ?? Math.max(1, Math.min(4, availableParallelism()));
    assertInteger(this.workerCount, 1, 'StreamingImageLoader: workers');
    this.crop = options.crop ?? { kind: 'random-resized' };
    checkCropSpec(this.crop, 'StreamingImageLoader');
    for (const [i, item] of items.entries()) {
      if (
        typeof item?.path !== 'string' ||
        !Number.isInteger(item.label) ||
        !(item.width >= 1 && item.height >= 1)
      ) {
        throw new TypeError(
          `StreamingImageLoader: item ${i} must be { path, label, width >= 1, height >= 1 } (from scanImageFolder), got ${JSON.stringify(item)}`,
        );
      }
    }
    this.numClasses =
      options.numClasses ?? (Array.isArray(source) ? 0 : (source as FolderScan).classNames.length);
    assertInteger(this.numClasses, 0, 'StreamingImageLoader: numClasses');
    for (const [i, item] of items.entries()) {
      const ok =
        this.numClasses === 0 ? item.label === -1 : item.label >= 0 && item.label < this.numClasses;
      if (!ok) {
        throw new RangeError(
          `StreamingImageLoader: item ${i} (${item.path}) has label ${item.label}, expected ${this.numClasses === 0 ? '-1 (unlabeled)' : `a class in [0, ${this.numClasses})`}`,
        );
      }
    }
    this.items = items;
    this.batchSize = options.batchSize;
    this.seed = options.seed;
    this.flip = options.flip ?? false;
    this.shuffle = options.shuffle ?? true;
    this.strict = options.strict ?? false;
    this.onUnreadable = options.onUnreadable;
    this.imageShape = [size, size, channels];
    this.fingerprint = fingerprintOf(items);
    const dropLast = options.dropLast ?? true;
    this.stepsPerEpoch = dropLast
      ? Math.floor(items.length / this.batchSize)
      : Math.ceil(items.length / this.batchSize);
    if (this.stepsPerEpoch === 0) {
      throw new RangeError(
        `StreamingImageLoader: ${this.name} has ${items.length} items, fewer than batchSize ${this.batchSize} with dropLast: no full batch (lower batchSize or set dropLast: false)`,
      );
    }
  }

  /** The item order of epoch `epoch`: a permutation of `0..n-1` from `(seed, epoch)` (identity without shuffle). */
  epochOrder(epoch: number): Int32Array {
    assertInteger(epoch, 0, 'StreamingImageLoader: epoch');
    if (!this.shuffle) return Int32Array.from({ length: this.items.length }, (_, i) => i);
    return new Rng(this.seed).fork(`epoch:${epoch}`).permutation(this.items.length);
  }

  /** The position of the next batch {@link StreamingImageLoader.next} returns. */
  position(): LoaderPosition {
    return { epoch: this.epochNumber, index: this.batchIndex };
  }

  /** What the loader holds now, and the most it ever held. */
  stats(): StreamingLoaderStats {
    return { ...this.counters };
  }

  /** The resume state: save it (JSON) with a checkpoint, and {@link StreamingImageLoader.restore} it later. */
  state(): StreamingLoaderState {
    return {
      ...this.position(),
      seed: this.seed,
      size: this.items.length,
      fingerprint: this.fingerprint,
    };
  }

  /**
   * Continues from a saved {@link StreamingLoaderState}: the next batch is the one the
   * saving run would have read next.
   * @throws when the state is of another seed or other items, or its position is out of range.
   */
  restore(state: StreamingLoaderState): void {
    if (state?.seed !== this.seed || state.size !== this.items.length) {
      throw new Error(
        `StreamingImageLoader.restore: the state is of seed ${String(state?.seed)} and ${String(state?.size)} items, this loader has seed ${this.seed} and ${this.items.length}`,
      );
    }
    if (state.fingerprint !== this.fingerprint) {
      throw new Error(
        `StreamingImageLoader.restore: the state's items (fingerprint ${String(state.fingerprint)}) differ from this loader's (${this.fingerprint}): the folder changed`,
      );
    }
    this.seek(state);
  }

  /**
   * Moves to `position`; the next batch is the one read there in any run with the same
   * items and options. Batches decoded ahead are dropped.
   * @throws when `index` is not in `[0, stepsPerEpoch)` or `epoch` is not an integer >= 0.
   */
  seek(position: LoaderPosition): void {
    assertInteger(position?.epoch, 0, 'StreamingImageLoader.seek: position.epoch');
    assertInteger(position.index, 0, 'StreamingImageLoader.seek: position.index');
    if (position.index >= this.stepsPerEpoch) {
      throw new RangeError(
        `StreamingImageLoader.seek: position.index must be below stepsPerEpoch ${this.stepsPerEpoch}, got ${position.index}`,
      );
    }
    // batches decoding for the old position finish (and are dropped) before new ones start
    for (const q of this.queue) {
      this.stale.push(
        q.promise.then(
          () => void this.counters.held--,
          () => void this.counters.held--,
        ),
      );
    }
    this.queue = [];
    this.epochNumber = position.epoch;
    this.batchIndex = position.index;
  }

  /**
   * The next batch as JS arrays (the caller owns them); advances the position. Calls made
   * before the previous one resolved are served in call order.
   */
  nextArrays(): Promise<StreamArrayBatch> {
    const result = this.calls.then(() => this.take());
    this.calls = result.catch(() => undefined);
    return result;
  }

  private async take(): Promise<StreamArrayBatch> {
    if (this.closed) throw new Error('StreamingImageLoader: closed');
    if (this.failure) throw this.failure;
    if (this.stale.length > 0) {
      await Promise.allSettled(this.stale);
      this.stale = [];
    }
    this.fill();
    const head = this.queue.shift() as Pending;
    let batch: StreamArrayBatch;
    try {
      batch = await head.promise;
    } finally {
      this.counters.held--; // handed out (or failed): no longer the loader's
    }
    this.batchIndex++;
    if (this.batchIndex === this.stepsPerEpoch) {
      this.batchIndex = 0;
      this.epochNumber++;
    }
    this.counters.delivered++;
    this.fill();
    return batch;
  }

  /** The next batch as tensors (the caller disposes them: {@link disposeBatch}); advances the position. */
  async next(): Promise<StreamBatch> {
    const b = await this.nextArrays();
    const [h, w, c] = this.imageShape;
    const n = b.labels.length;
    return {
      images: tf.tensor4d(b.images, [n, h, w, c], 'float32'),
      labels: tf.tensor1d(b.labels, 'int32'),
      indices: b.indices,
      position: b.position,
      crops: b.crops,
      flipped: b.flipped,
    };
  }

  /** Yields the remaining batches of the current epoch, as tensors. */
  async *epoch(): AsyncGenerator<StreamBatch, void, undefined> {
    const epoch = this.epochNumber;
    while (this.epochNumber === epoch) yield await this.next();
  }

  /** Stops the decode threads; batches not yet handed out are dropped. The loader cannot be used after. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    const err = new Error('StreamingImageLoader: closed');
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }

  /** Schedules batches from the current position until `prefetch` are held. */
  private fill(): void {
    let at = this.queue.length > 0 ? (this.queue[this.queue.length - 1] as Pending).at : undefined;
    while (this.queue.length < this.prefetch) {
      at = at === undefined ? this.position() : this.after(at);
      const pos = at;
      this.counters.held++;
      this.counters.maxHeld = Math.max(this.counters.maxHeld, this.counters.held);
      const promise = this.assemble(pos);
      promise.catch(() => undefined); // surfaced by nextArrays when this batch is reached
      this.queue.push({ at: pos, promise });
    }
  }

  private after(at: LoaderPosition): LoaderPosition {
    return at.index + 1 === this.stepsPerEpoch
      ? { epoch: at.epoch + 1, index: 0 }
      : { epoch: at.epoch, index: at.index + 1 };
  }

  private orderOf(epoch: number): Int32Array {
    if (this.orderEpoch !== epoch) {
      this.order = this.epochOrder(epoch);
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  private plan(item: number, rng: Rng): { crop: CropBox; flip: boolean } {
    const entry = this.items[item] as ImageEntry;
    const crop = cropBox(entry.width, entry.height, this.crop, rng.fork('crop'));
    return { crop, flip: this.flip && rng.fork('flip').bernoulli(0.5) };
  }

  private async assemble(at: LoaderPosition): Promise<StreamArrayBatch> {
    const order = this.orderOf(at.epoch);
    const start = at.index * this.batchSize;
    const indices = order.slice(start, Math.min(start + this.batchSize, this.items.length));
    const n = indices.length;
    const root = new Rng(this.seed).fork(`epoch:${at.epoch}`);
    const tasks = Array.from(indices, (item, j) => {
      const p = this.plan(item, root.fork(`place:${start + j}`));
      return { path: (this.items[item] as ImageEntry).path, ...p };
    });
    const [size, , channels] = this.imageShape;
    const per = size * size * channels;
    const images = new Float32Array(n * per);
    const labels = Int32Array.from(indices, (i) => (this.items[i] as ImageEntry).label);
    const chunks = Math.min(this.workerCount, n);
    const bounds = Array.from({ length: chunks + 1 }, (_, c) => Math.round((c * n) / chunks));
    await Promise.all(
      Array.from({ length: chunks }, async (_, c) => {
        const lo = bounds[c] as number;
        const hi = bounds[c + 1] as number;
        const r = await this.request(c, channels, tasks.slice(lo, hi));
        images.set(new Float32Array(r.buffer), lo * per);
        for (const [k, error] of r.errors.entries()) {
          if (error !== null) await this.replace(indices, lo + k, error, images, labels, tasks);
        }
      }),
    );
    this.counters.decoded += n;
    return {
      images,
      labels,
      indices,
      position: at,
      crops: tasks.map((t) => t.crop),
      flipped: tasks.map((t) => t.flip),
    };
  }

  /** An unreadable image: an error with `strict`, else the next readable item of the dataset in its place. */
  private async replace(
    indices: Int32Array,
    j: number,
    error: string,
    images: Float32Array,
    labels: Int32Array,
    tasks: { path: string; crop: CropBox; flip: boolean }[],
  ): Promise<void> {
    const n = this.items.length;
    let item = indices[j] as number;
    let reason = error;
    for (let tries = 0; tries < n; tries++) {
      const entry = this.items[item] as ImageEntry;
      this.report({ path: entry.path, reason });
      if (this.strict) {
        const err = new Error(
          `${entry.path}: cannot decode (${reason}); strict: unreadable images are errors`,
        );
        this.failure ??= err;
        throw err;
      }
      item = (item + 1) % n;
      const task = {
        path: (this.items[item] as ImageEntry).path,
        ...this.plan(item, new Rng(this.seed).fork(`replace:${item}`)),
      };
      const r = await this.request(j % Math.max(1, this.workerCount), this.imageShape[2], [task]);
      this.counters.decoded++;
      if (r.errors[0] === null) {
        const per = r.buffer.byteLength / 4;
        images.set(new Float32Array(r.buffer), j * per);
        labels[j] = (this.items[item] as ImageEntry).label;
        indices[j] = item;
        tasks[j] = task;
        return;
      }
      reason = r.errors[0] as string;
    }
    throw new Error(`${this.name}: no image could be decoded`);
  }

  private report(image: SkippedImage): void {
    if (this.unreadable.some((u) => u.path === image.path)) return;
    this.unreadable.push(image);
    this.onUnreadable?.(image);
  }

  private request(
    worker: number,
    channels: 1 | 3,
    tasks: DecodeRequest['tasks'],
  ): Promise<DecodeResponse> {
    if (this.closed) return Promise.reject(new Error('StreamingImageLoader: closed'));
    while (this.workers.length < this.workerCount) {
      const w = startWorker();
      w.unref();
      w.on('message', (r: DecodeResponse) => {
        const left = (this.busy.get(w) ?? 1) - 1;
        this.busy.set(w, left);
        const waiter = this.waiting.get(r.id);
        this.waiting.delete(r.id);
        if (this.waiting.size === 0) for (const t of this.workers) t.unref(); // idle: no hold on the process
        waiter?.resolve(r);
      });
      w.on('error', (err) => {
        this.failure ??= new Error(`StreamingImageLoader: a decode thread failed: ${err.message}`, {
          cause: err,
        });
        for (const waiter of this.waiting.values()) waiter.reject(this.failure);
        this.waiting.clear();
      });
      this.workers.push(w);
    }
    const id = this.nextId++;
    const message: DecodeRequest = { id, size: this.imageShape[0], channels, tasks };
    return new Promise<DecodeResponse>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const w = this.workers[worker] as Worker;
      this.busy.set(w, (this.busy.get(w) ?? 0) + 1);
      for (const t of this.workers) t.ref();
      w.postMessage(message);
    });
  }
}
