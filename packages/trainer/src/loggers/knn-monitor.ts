/**
 * The kNN monitor (solo-learn's "online kNN"): every few steps, the online backbone's
 * pooled features of a fixed set of training images (the memory) and of a fixed
 * held-out set (the queries), and the weighted kNN top-1 accuracy of the queries
 * (`@ediy/eval`'s {@link knnEvaluate}, cosine similarity, exp(sim / T) votes).
 */
import { IMAGENET_NORMALIZE } from '@ediy/augment';
import { heldOutSample, type Dataset } from '@ediy/data';
import {
  extractFeatures,
  extractFeaturesAsync,
  knnEvaluate,
  knnEvaluateAsync,
  type FeatureExtractor,
  type HostArray,
} from '@ediy/eval';

/** Options of the kNN monitor ({@link PretrainOptions.monitor}). */
export interface MonitorOptions {
  /** Steps between two measurements (the monitor runs at every multiple of it, and at the schedule's last step). */
  every: number;
  /** Images in each of the memory and the query set (default 1000; fewer when the data hold fewer). */
  images?: number;
  /** Neighbours that vote (default 20, at most the memory's size). */
  k?: number;
  /** Vote temperature (default 0.07). */
  temperature?: number;
}

/** A set of labelled images `[n,H,W,3]` in [0, 1]. */
export interface LabelledImages {
  /** Pixels, NHWC. */
  images: Float32Array;
  /** `[n, H, W, 3]`. */
  shape: readonly [number, number, number, number];
  /** One class id per image. */
  labels: Int32Array;
}

/** One measurement of the monitor. */
export interface MonitorValue {
  /** Weighted kNN top-1 accuracy of the queries, in [0, 1]. */
  knnTop1: number;
  /** Milliseconds the measurement took (both feature passes and the kNN). */
  ms: number;
}

/** Reads a dataset's images and labels, normalised as the training views are. */
export function labelledImages(dataset: Dataset): LabelledImages {
  const [H, W, C] = dataset.imageShape;
  if (C !== 3) throw new Error(`${dataset.name}: the kNN monitor needs 3 channels, got ${C}`);
  const batch = dataset.get(Array.from({ length: dataset.size }, (_, i) => i));
  if (batch.labels.some((l) => l < 0))
    throw new Error(`${dataset.name}: the kNN monitor needs labelled images, some are unlabeled`);
  const { mean, std } = IMAGENET_NORMALIZE;
  const images = Float32Array.from(batch.images);
  for (let i = 0; i < images.length; i++)
    images[i] = ((images[i] as number) - (mean[i % 3] as number)) / (std[i % 3] as number);
  return { images, shape: [dataset.size, H, W, 3], labels: Int32Array.from(batch.labels) };
}

/**
 * Validates monitor options, naming the field and the value.
 * @throws when `every` is not an integer >= 1 or `images`, `k`, `temperature` are out of range.
 */
export function checkMonitorOptions(options: MonitorOptions): void {
  const int = (v: unknown, name: string, min: number): void => {
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < min))
      throw new RangeError(`monitor.${name} must be an integer >= ${min}, got ${String(v)}`);
  };
  if (typeof options !== 'object' || options === null)
    throw new TypeError(
      `monitor must be { every, images?, k?, temperature? }, got ${String(options)}`,
    );
  int(options.every, 'every', 1);
  if (options.every === undefined) throw new RangeError('monitor.every must be given');
  int(options.images, 'images', 2);
  int(options.k, 'k', 1);
  const t = options.temperature;
  if (t !== undefined && !(typeof t === 'number' && t > 0 && Number.isFinite(t)))
    throw new RangeError(`monitor.temperature must be a finite number > 0, got ${String(t)}`);
}

/**
 * A kNN monitor over a fixed memory and query set. {@link KnnMonitor.measure} leaves
 * no tensors behind and never changes the extractor's weights.
 */
export class KnnMonitor {
  private readonly numClasses: number;

  /**
   * @param memory - the labelled images whose features vote.
   * @param queries - the labelled held-out images scored.
   * @param options - `k` and `temperature` (see {@link MonitorOptions}).
   */
  constructor(
    readonly memory: LabelledImages,
    readonly queries: LabelledImages,
    private readonly options: Pick<MonitorOptions, 'k' | 'temperature'> = {},
  ) {
    let max = 0;
    for (const l of [...memory.labels, ...queries.labels]) max = Math.max(max, l);
    this.numClasses = max + 1;
  }

  /**
   * Samples the memory from `train` and the queries from `heldOut` ({@link heldOutSample}:
   * stratified, seeded), `images` of each.
   */
  static fromData(train: Dataset, heldOut: Dataset, options: MonitorOptions, seed = 0): KnnMonitor {
    const n = options.images ?? 1000;
    return new KnnMonitor(
      labelledImages(heldOutSample(train, n, seed)),
      labelledImages(heldOutSample(heldOut, n, seed)),
      options,
    );
  }

  /**
   * The kNN top-1 of the queries under `extractor`'s pooled features. Reads synchronously;
   * on tfjs-backend-webgpu in Node use {@link KnnMonitor.measureAsync}.
   */
  measure(extractor: FeatureExtractor): MonitorValue {
    const t0 = performance.now();
    const features = (set: LabelledImages): ReturnType<typeof extractFeatures>['pooled'] =>
      extractFeatures(extractor, { data: set.images, shape: set.shape }, { batchSize: 64 }).pooled;
    const result = knnEvaluate(this.knnOptions(features(this.memory), features(this.queries)));
    return { knnTop1: result.top1, ms: performance.now() - t0 };
  }

  /** {@link KnnMonitor.measure} reading asynchronously: the same value, on every backend (pretrain uses it). */
  async measureAsync(extractor: FeatureExtractor): Promise<MonitorValue> {
    const t0 = performance.now();
    const features = async (set: LabelledImages) =>
      (
        await extractFeaturesAsync(
          extractor,
          { data: set.images, shape: set.shape },
          { batchSize: 64 },
        )
      ).pooled;
    const memory = await features(this.memory);
    const queries = await features(this.queries);
    const result = await knnEvaluateAsync(this.knnOptions(memory, queries));
    return { knnTop1: result.top1, ms: performance.now() - t0 };
  }

  private knnOptions(memory: HostArray, queries: HostArray): Parameters<typeof knnEvaluate>[0] {
    return {
      trainFeatures: memory,
      trainLabels: this.memory.labels,
      testFeatures: queries,
      testLabels: this.queries.labels,
      numClasses: this.numClasses,
      k: Math.min(this.options.k ?? 20, this.memory.labels.length),
      temperature: this.options.temperature ?? 0.07,
    };
  }
}
