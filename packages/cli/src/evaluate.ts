/**
 * `ediy eval`: the proxy metrics of a frozen backbone, under one protocol for every run
 * and the untrained floor. The kNN memory and the probes' training set are a stratified,
 * seeded, shuffled sample of the run's training part (the whole training split where the
 * preset's budget allows); the scored images are a sample of its held-out part (the
 * whole held-out split where it allows), which pre-training never reads (see
 * {@link openParts}). Metrics: weighted kNN top-1 (cosine, k = 20, T = 0.07, as
 * solo-learn), linear-probe top-1 on standardised pooled features, dense-probe mIoU on
 * the region maps (when the data has masks), and the region diversity of the scored
 * images' maps; kNN and linear top-1 with a seeded 95% bootstrap interval over the
 * scored images.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { IMAGENET_NORMALIZE } from '@ediy/augment';
import { resnet } from '@ediy/backbones';
import {
  heldOutSample,
  isImageFolderPath,
  loadFolderScan,
  splitImageFolder,
  stratifiedSplit,
  toRgb,
  type Dataset,
  type FolderScan,
  type HeldOutKind,
} from '@ediy/data';
import {
  bootstrapInterval,
  denseProbe,
  extractFeatures,
  fromLayersModel,
  knnEvaluate,
  linearProbe,
  regionDiversity,
  type FeatureExtractor,
  type HostArray,
  type Interval,
} from '@ediy/eval';
import {
  latestCheckpoint,
  loadCheckpoint,
  presetScale,
  restoreWeights,
  PRESET_NAMES,
  type DataConfig,
  type ExperimentConfig,
  type PresetName,
} from '@ediy/trainer';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openParts } from './held-out.js';
import type { EvalMetrics } from './results.js';

/** How much evaluation a preset does. */
export interface EvalSettings {
  /** Most training images that are the kNN memory and train the probes (`Infinity`: the whole training part). */
  memory: number;
  /** Most held-out images scored (`Infinity`: the whole held-out part). */
  test: number;
  /** Neighbours of the kNN vote (capped at the memory's size). */
  knnK: number;
  /** Temperature T of the kNN vote's weights exp(cos / T). */
  knnTemperature: number;
  /** Linear-probe epochs over the probe training set. */
  linearEpochs: number;
  /** Linear-probe rows per step. */
  linearBatch: number;
  /** Most training images whose region maps train the dense probe (maps are held in memory). */
  denseTrain: number;
  /** Dense-probe epochs. */
  denseEpochs: number;
  /** Most scored images whose maps give the region diversity. */
  diversityImages: number;
  /** Training batches of {@link EvalSettings.bnBatchSize} that estimate BatchNorm statistics (the untrained floor's `estimated` convention). */
  bnBatches: number;
  /** Images per BatchNorm-estimation batch. */
  bnBatchSize: number;
  /** Bootstrap resamples of each interval. */
  bootstrap: number;
}

/**
 * Evaluation budget of each preset. `mini` scores the whole held-out split (Fashion-MNIST:
 * its 10k test images) with 10k training images as memory (`ediy eval --memory all` uses
 * all 60k: feature extraction dominates, and 70k images instead of 20k took 3.5x as long);
 * `paper` 20k and 10k.
 */
export const EVAL_SETTINGS: Readonly<Record<PresetName, EvalSettings>> = {
  smoke: {
    memory: 256,
    test: 256,
    knnK: 20,
    knnTemperature: 0.07,
    linearEpochs: 10,
    linearBatch: 64,
    denseTrain: 256,
    denseEpochs: 3,
    diversityImages: 256,
    bnBatches: 2,
    bnBatchSize: 32,
    bootstrap: 200,
  },
  mini: {
    memory: 10_000,
    test: Infinity,
    knnK: 20,
    knnTemperature: 0.07,
    linearEpochs: 20,
    linearBatch: 256,
    denseTrain: 2048,
    denseEpochs: 10,
    diversityImages: 2048,
    bnBatches: 8,
    bnBatchSize: 256,
    bootstrap: 1000,
  },
  paper: {
    memory: 20_000,
    test: 10_000,
    knnK: 20,
    knnTemperature: 0.07,
    linearEpochs: 50,
    linearBatch: 256,
    denseTrain: 2000,
    denseEpochs: 20,
    diversityImages: 2000,
    bnBatches: 32,
    bnBatchSize: 64,
    bootstrap: 1000,
  },
};

/** The preset whose scale a config has (by backbone and image size), default `mini`. */
export function presetOf(config: ExperimentConfig): PresetName {
  for (const name of PRESET_NAMES) {
    const s = presetScale(name);
    const b = config.scale.backbone;
    if (
      s.backbone.depth === b.depth &&
      s.backbone.stem === b.stem &&
      s.backbone.widthMultiplier === b.widthMultiplier &&
      s.imageSize === config.scale.imageSize
    ) {
      return name;
    }
  }
  return 'mini';
}

/** A trained run's online backbone, read from its newest checkpoint. */
export interface RunBackbone {
  /** The backbone (outputs `[layer4 map, pooled]`); the caller disposes it. */
  model: LayersModel;
  /** The run's config. */
  config: ExperimentConfig;
  /** The checkpoint's step. */
  step: number;
  /** The checkpoint folder. */
  checkpoint: string;
}

/**
 * Loads the online backbone of the newest checkpoint of `runDir`.
 * @throws naming the folder when it holds no checkpoint.
 */
export function loadRunBackbone(runDir: string, name = 'backbone'): RunBackbone {
  if (!existsSync(runDir)) throw new Error(`${runDir}: run directory not found`);
  const dir = latestCheckpoint(join(runDir, 'checkpoints'));
  if (!dir)
    throw new Error(
      `${runDir}: no checkpoint (expected ${join(runDir, 'checkpoints', 'step-*', 'state.json')}); is it a run directory of 'ediy pretrain'?`,
    );
  const ckpt = loadCheckpoint(dir);
  try {
    const config = ckpt.state.config;
    const model = resnet({ ...config.scale.backbone, name, seed: 0 });
    restoreWeights(model, ckpt.weights['online.backbone'], `${dir} online.backbone`);
    model.trainable = false;
    return { model, config, step: ckpt.state.step, checkpoint: dir };
  } finally {
    tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);
  }
}

/** The images an evaluation reads: samples of a run's training and held-out parts. */
export interface EvalData {
  /** The kNN memory and probe training set: a stratified, seeded, shuffled sample of the training part. */
  train: Dataset;
  /** The scored images: a stratified, seeded, shuffled sample of the held-out part. */
  test: Dataset;
  /** How the held-out part was found (`files`, `folders`, `split`, `seed`). */
  how: HeldOutKind;
  /** Sizes of the whole parts before sampling. */
  sizes: { train: number; heldOut: number };
  /** One line on the data for the start of a command. */
  report: string;
}

/**
 * Opens the evaluation data of a data config under `settings`: at most `memory` training
 * and `test` held-out images, each a stratified sample in a seeded shuffled order
 * ({@link heldOutSample}). `seed` (default 0) is the sampling seed; keep it fixed so
 * that every run of a table is scored on the same images.
 */
export async function openEvalData(
  data: DataConfig,
  settings: EvalSettings,
  seed = 0,
): Promise<EvalData> {
  if (data.kind === 'path' && isImageFolderPath(data.path)) {
    return openFolderEvalData(data.path, data.size ?? 32, settings, seed);
  }
  const parts = await openParts(data);
  const take = (d: Dataset, max: number): Dataset =>
    heldOutSample(d, Number.isFinite(max) ? Math.min(max, d.size) : d.size, seed);
  const train = take(parts.train, settings.memory);
  const test = take(parts.heldOut, settings.test);
  return {
    train,
    test,
    how: parts.how,
    sizes: { train: parts.train.size, heldOut: parts.heldOut.size },
    report: `${parts.report}; evaluation: ${train.size} training images as memory, ${test.size} held-out images scored`,
  };
}

/** At most `max` items of a scan, stratified by class and seeded (nothing decoded). */
function sampleScan(scan: FolderScan, max: number, seed: number): FolderScan {
  if (!Number.isFinite(max) || max >= scan.items.length) return scan;
  const { test } = stratifiedSplit(
    scan.items.map((i) => i.label),
    { testFraction: max / scan.items.length, seed, shuffle: true },
  );
  return {
    ...scan,
    items: Array.from(test.subarray(0, max), (k) => scan.items[k] as FolderScan['items'][number]),
  };
}

/**
 * {@link openEvalData} for an image folder: its parts as scans ({@link splitImageFolder}),
 * sampled before decoding, so only the images evaluated are decoded (an ImageNet-sized
 * training folder is never held in memory).
 */
async function openFolderEvalData(
  path: string,
  size: number,
  settings: EvalSettings,
  seed: number,
): Promise<EvalData> {
  const splits = await splitImageFolder(path);
  const load = async (scan: FolderScan, max: number, part: string): Promise<Dataset> =>
    heldOutSample(
      toRgb(await loadFolderScan(sampleScan(scan, max, seed), { size, name: `${path}[${part}]` })),
      Number.MAX_SAFE_INTEGER,
      seed,
    );
  const train = await load(splits.train, settings.memory, 'train');
  const test = await load(splits.heldOut, settings.test, 'held-out');
  return {
    train,
    test,
    how: splits.how,
    sizes: { train: splits.train.items.length, heldOut: splits.heldOut.items.length },
    report: `${splits.report}; evaluation: ${train.size} training images as memory, ${test.size} held-out images scored`,
  };
}

/** Images `[n,H,W,3]` in [0, 1], normalised in place as the training views are (ImageNet mean and std). */
function normalize(images: Float32Array): Float32Array {
  const { mean, std } = IMAGENET_NORMALIZE;
  for (let i = 0; i < images.length; i++) {
    const c = i % 3;
    images[i] = ((images[i] as number) - (mean[c] as number)) / (std[c] as number);
  }
  return images;
}

function indices(start: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => start + i);
}

/** Features of the first `count` images of a dataset, with the maps (and masks) of the first `mapsFor`. */
interface DatasetFeatures {
  pooled: HostArray;
  labels: Int32Array;
  maps?: HostArray;
  masks?: HostArray<Int32Array>;
}

function datasetFeatures(
  extractor: FeatureExtractor,
  dataset: Dataset,
  mapsFor: number,
  chunk = 512,
): DatasetFeatures {
  const n = dataset.size;
  const [H, W, C3] = dataset.imageShape;
  if (C3 !== 3) throw new Error(`${dataset.name}: images must have 3 channels, got ${C3}`);
  const labels = new Int32Array(n);
  let pooled: Float32Array | undefined;
  let maps: Float32Array | undefined;
  let masks: Int32Array | undefined;
  let mapShape: number[] = [];
  let C = 0;
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const batch = dataset.get(indices(start, size));
    labels.set(batch.labels, start);
    const withMaps = Math.max(0, Math.min(size, mapsFor - start));
    const f = extractFeatures(
      extractor,
      { data: normalize(batch.images), shape: [size, H, W, 3] },
      { maps: withMaps > 0, batchSize: 32 },
    );
    C = f.pooled.shape[1] as number;
    pooled ??= new Float32Array(n * C);
    pooled.set(f.pooled.data, start * C);
    if (f.maps && withMaps > 0) {
      mapShape = f.maps.shape.slice(1) as number[];
      const per = mapShape.reduce((a, b) => a * b, 1);
      maps ??= new Float32Array(Math.min(n, mapsFor) * per);
      maps.set(f.maps.data.subarray(0, withMaps * per), start * per);
      if (batch.masks) {
        masks ??= new Int32Array(Math.min(n, mapsFor) * H * W);
        masks.set(batch.masks.subarray(0, withMaps * H * W), start * H * W);
      }
    }
  }
  const m = Math.min(n, mapsFor);
  return {
    pooled: { data: pooled ?? new Float32Array(0), shape: [n, C] },
    labels,
    ...(maps ? { maps: { data: maps, shape: [m, ...mapShape] } } : {}),
    ...(masks ? { masks: { data: masks, shape: [m, H, W] } } : {}),
  };
}

/** The 95% intervals of the metrics that have one (kNN and linear top-1: bootstrap over scored images). */
export type MetricIntervals = Partial<Record<keyof EvalMetrics, Interval>>;

/** What {@link evaluateBackbone} measured, on how many images, in how long. */
export interface BackboneEvaluation {
  /** The metrics (NaN where the data lacks labels or masks). */
  metrics: EvalMetrics;
  /** 95% intervals (bootstrap over the scored images) of kNN and linear top-1. */
  intervals: MetricIntervals;
  /** Training images used as kNN memory and probe training set. */
  memory: number;
  /** Held-out images scored. */
  test: number;
  /** Wall-clock seconds of the evaluation (features, probes, intervals). */
  seconds: number;
  /** Seconds of each part: feature extraction, kNN, linear probe, dense probe, region diversity. */
  timings: { features: number; knn: number; linear: number; dense: number; diversity: number };
}

/**
 * The proxy metrics of a frozen backbone on {@link EvalData}: features of every training
 * and scored image (inference mode: BatchNorm uses the model's moving statistics), the
 * kNN vote and the linear probe trained on the training sample and scored on the
 * held-out sample, the dense probe on the region maps of up to `denseTrain` training
 * images (when the data has masks), the region diversity of up to `diversityImages`
 * scored images (NaN for maps of one region). Leaves no tensors behind.
 * @throws when either sample is empty.
 */
export function evaluateBackbone(
  model: LayersModel,
  data: EvalData,
  settings: EvalSettings,
  seed = 0,
): BackboneEvaluation {
  const t0 = performance.now();
  const nTrain = data.train.size;
  const nTest = data.test.size;
  if (nTrain < 1 || nTest < 1) {
    throw new Error(
      `evaluation needs training and held-out images, got ${nTrain} and ${nTest} (${data.train.name}, ${data.test.name})`,
    );
  }
  const extractor = fromLayersModel(model);
  const masked = data.train.hasMasks && data.test.hasMasks;
  const train = datasetFeatures(extractor, data.train, masked ? settings.denseTrain : 0);
  const test = datasetFeatures(
    extractor,
    data.test,
    masked ? nTest : Math.min(nTest, settings.diversityImages),
  );
  let mark = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const s = (now - mark) / 1000;
    mark = now;
    return s;
  };
  const timings = { features: (mark - t0) / 1000, knn: 0, linear: 0, dense: 0, diversity: 0 };
  const numClasses = data.test.numClasses;
  const labelled =
    numClasses >= 2 &&
    data.train.numClasses === numClasses &&
    train.labels.every((l) => l >= 0) &&
    test.labels.every((l) => l >= 0);
  const intervals: MetricIntervals = {};
  const interval = (correct: Uint8Array): Interval =>
    bootstrapInterval(correct, { resamples: settings.bootstrap, seed });
  let knnTop1 = NaN;
  let linearTop1 = NaN;
  if (labelled) {
    const knn = knnEvaluate({
      trainFeatures: train.pooled,
      trainLabels: train.labels,
      testFeatures: test.pooled,
      testLabels: test.labels,
      numClasses,
      k: Math.min(settings.knnK, nTrain),
      temperature: settings.knnTemperature,
    });
    knnTop1 = knn.top1;
    intervals.knnTop1 = interval(knn.correct);
    timings.knn = lap();
    const linear = linearProbe({
      trainFeatures: train.pooled,
      trainLabels: train.labels,
      testFeatures: test.pooled,
      testLabels: test.labels,
      numClasses,
      epochs: settings.linearEpochs,
      batchSize: settings.linearBatch,
      seed,
    });
    linearTop1 = linear.top1;
    intervals.linearTop1 = interval(linear.correct);
    timings.linear = lap();
  }
  const denseMIoU =
    masked && train.maps && train.masks && test.maps && test.masks
      ? denseProbe({
          trainMaps: train.maps,
          trainMasks: train.masks,
          testMaps: test.maps,
          testMasks: test.masks,
          numClasses: numClasses + 1,
          epochs: settings.denseEpochs,
          seed,
        }).mIoU
      : NaN;
  timings.dense = lap();
  let diversity = { meanRegionCosine: NaN, effectiveRank: NaN };
  // Region diversity needs two or more regions per image (a 1x1 map has one).
  if (test.maps && (test.maps.shape[1] as number) * (test.maps.shape[2] as number) >= 2) {
    const maps = test.maps;
    const m = Math.min(maps.shape[0] as number, settings.diversityImages);
    const per = maps.data.length / (maps.shape[0] as number);
    diversity = regionDiversity({
      data: maps.data.subarray(0, m * per),
      shape: [m, ...maps.shape.slice(1)],
    });
  }
  return {
    metrics: {
      knnTop1,
      linearTop1,
      denseMIoU,
      meanRegionCosine: diversity.meanRegionCosine,
      effectiveRank: diversity.effectiveRank,
    },
    intervals,
    memory: nTrain,
    test: nTest,
    seconds: (performance.now() - t0) / 1000,
    timings: { ...timings, diversity: lap() },
  };
}

/** Options of {@link evaluateRun} and {@link evaluateUntrained}. */
export interface EvaluateRunOptions {
  /** Data whose training and held-out parts are used (default: the run's own data config). */
  data?: DataConfig;
  /** Evaluation budget (default: that of the preset the run's scale matches). */
  settings?: EvalSettings;
  /** Replaces the budget's {@link EvalSettings.memory} (`Infinity`: the whole training part). */
  memory?: number;
  /** Already opened evaluation data (then `data` is not read). */
  evalData?: EvalData;
}

/** What {@link evaluateRun} measured and on what. */
export interface RunEvaluation extends BackboneEvaluation {
  /** The checkpoint evaluated. */
  checkpoint: string;
  /** Its step. */
  step: number;
  /** How the held-out part was found. */
  heldOut: HeldOutKind;
}

/** Evaluates the newest checkpoint of a run directory (BatchNorm with the run's moving statistics). */
export async function evaluateRun(
  runDir: string,
  options: EvaluateRunOptions = {},
): Promise<RunEvaluation> {
  const { model, config, step, checkpoint } = loadRunBackbone(runDir);
  try {
    const base = options.settings ?? EVAL_SETTINGS[presetOf(config)];
    const settings = options.memory === undefined ? base : { ...base, memory: options.memory };
    const data =
      options.evalData ?? (await openEvalData(options.data ?? config.scale.data, settings));
    const evaluation = evaluateBackbone(model, data, settings, config.seed);
    return { ...evaluation, checkpoint, step, heldOut: data.how };
  } finally {
    model.dispose();
  }
}

/**
 * The two BatchNorm conventions of an untrained backbone: `initial` keeps the
 * initialisation's moving statistics (mean 0, variance 1), as a trained run keeps its
 * own; `estimated` first sets them from training images ({@link estimateBatchNorm}).
 */
export const BN_CONVENTIONS = ['initial', 'estimated'] as const;

/** A BatchNorm convention of the untrained floor. */
export type BnConvention = (typeof BN_CONVENTIONS)[number];

/**
 * The seeded initialisation of a config's online backbone: the same weights the run
 * started from (`resnet` draws them from the config's seed and the layer names).
 */
export function untrainedBackbone(
  config: ExperimentConfig,
  name = 'untrained_backbone',
): LayersModel {
  const model = resnet({ ...config.scale.backbone, name, seed: config.seed });
  model.trainable = false;
  return model;
}

/**
 * Sets a model's BatchNorm moving statistics to the statistics of data ("precise
 * BatchNorm"): `batches` forward passes in training mode (`model.apply(x, { training:
 * true })`: every BatchNorm layer normalises with its batch's mean and biased variance)
 * over consecutive batches of `batchSize` images of `dataset`, cycling through it; each
 * layer's moving mean and variance become the averages of its batch statistics over the
 * passes (PyTorch's cumulative average, `momentum=None`). The batch statistics are read
 * back from the moving averages tfjs-layers updates in each pass (new = m old + (1 - m)
 * batch, m the layer's momentum). Weights other than the moving statistics are not
 * changed. Leaves no tensors behind.
 */
export function estimateBatchNorm(
  model: LayersModel,
  dataset: Dataset,
  batches: number,
  batchSize: number,
): void {
  if (!(Number.isInteger(batches) && batches >= 1))
    throw new RangeError(`estimateBatchNorm: batches must be an integer >= 1, got ${batches}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 2))
    throw new RangeError(`estimateBatchNorm: batchSize must be an integer >= 2, got ${batchSize}`);
  const [H, W] = dataset.imageShape;
  const size = Math.min(batchSize, dataset.size);
  if (size < 2) throw new Error(`estimateBatchNorm: ${dataset.name} has fewer than 2 images`);
  const layers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  // Weights of a BatchNormalization layer: [gamma, beta, moving mean, moving variance].
  const stats = (l: (typeof layers)[number]) =>
    l
      .getWeights()
      .slice(-2)
      .map((w) => w.dataSync());
  const sums = layers.map((l) => stats(l).map((a) => new Float64Array(a.length)));
  for (let b = 0; b < batches; b++) {
    const before = layers.map(stats);
    const idx = indices(0, size).map((i) => (b * size + i) % dataset.size);
    const images = normalize(dataset.get(idx).images);
    tf.tidy(() => {
      model.apply(tf.tensor4d(images, [size, H, W, 3]), { training: true });
    });
    layers.forEach((l, k) => {
      const m = (l.getConfig().momentum as number | undefined) ?? 0.99;
      stats(l).forEach((now, s) => {
        const old = before[k]?.[s] as Float32Array;
        const sum = sums[k]?.[s] as Float64Array;
        for (let c = 0; c < now.length; c++) {
          sum[c] = (sum[c] as number) + ((now[c] as number) - m * (old[c] as number)) / (1 - m);
        }
      });
    });
  }
  layers.forEach((l, k) => {
    const w = l.getWeights();
    const mean = (s: number) =>
      tf.tensor1d(Float32Array.from(sums[k]?.[s] as Float64Array, (v) => v / batches));
    const next = [...w.slice(0, -2), mean(0), mean(1)];
    l.setWeights(next);
    tf.dispose(next.slice(-2));
  });
}

/** What {@link evaluateUntrained} measured. */
export interface UntrainedEvaluation {
  /** Each convention's evaluation. */
  conventions: Record<BnConvention, BackboneEvaluation>;
  /** The better convention (higher mean of kNN and linear top-1; else dense mIoU): the floor. */
  floor: BnConvention;
  /** The floor's evaluation. */
  best: BackboneEvaluation;
  /** How the held-out part was found. */
  heldOut: HeldOutKind;
  /** Wall-clock seconds of both evaluations and the BatchNorm estimate. */
  seconds: number;
}

function score(e: BackboneEvaluation): number {
  const { knnTop1, linearTop1, denseMIoU } = e.metrics;
  if (Number.isFinite(knnTop1) && Number.isFinite(linearTop1)) return (knnTop1 + linearTop1) / 2;
  return Number.isFinite(denseMIoU) ? denseMIoU : -Infinity;
}

/**
 * The untrained floor of a config: its seeded initialisation ({@link untrainedBackbone})
 * evaluated exactly like a trained run ({@link evaluateBackbone}, same data, budget and
 * probe seed), under both BatchNorm conventions ({@link BN_CONVENTIONS}); the better one
 * is the floor a pre-trained row must beat.
 */
export async function evaluateUntrained(
  config: ExperimentConfig,
  options: EvaluateRunOptions = {},
): Promise<UntrainedEvaluation> {
  const t0 = performance.now();
  const base = options.settings ?? EVAL_SETTINGS[presetOf(config)];
  const settings = options.memory === undefined ? base : { ...base, memory: options.memory };
  const data =
    options.evalData ?? (await openEvalData(options.data ?? config.scale.data, settings));
  const conventions = {} as Record<BnConvention, BackboneEvaluation>;
  for (const convention of BN_CONVENTIONS) {
    const model = untrainedBackbone(config);
    try {
      const t1 = performance.now();
      if (convention === 'estimated') {
        estimateBatchNorm(model, data.train, settings.bnBatches, settings.bnBatchSize);
      }
      const evaluation = evaluateBackbone(model, data, settings, config.seed);
      conventions[convention] = { ...evaluation, seconds: (performance.now() - t1) / 1000 };
    } finally {
      model.dispose();
    }
  }
  const floor: BnConvention =
    score(conventions.estimated) > score(conventions.initial) ? 'estimated' : 'initial';
  return {
    conventions,
    floor,
    best: conventions[floor],
    heldOut: data.how,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Held-out images on the host, normalised as the training views are. */
export interface HeldOut {
  /** Images [n,H,W,3], ImageNet-normalised. */
  images: HostArray;
  /** The same images in [0, 1] (for drawing). */
  raw: HostArray;
  /** Image labels, -1 when unlabeled. */
  labels: Int32Array;
  /** Per-pixel classes [n,H,W] (0 = background), when the data has masks. */
  masks?: HostArray<Int32Array>;
  /** Image classes (0 when unlabeled). */
  numClasses: number;
}

/**
 * Reads `max` held-out images of a run's data onto the host (for drawing saliency maps):
 * a stratified sample of the held-out part in a seeded shuffled order, so every class
 * shows.
 */
export async function heldOutData(data: DataConfig, max: number, seed = 0): Promise<HeldOut> {
  const dataset = heldOutSample((await openParts(data, max)).heldOut, max, seed);
  const n = dataset.size;
  const batch = dataset.get(indices(0, n));
  const [H, W, C] = dataset.imageShape;
  if (C !== 3) throw new Error(`${dataset.name}: held-out images must have 3 channels, got ${C}`);
  const shape = [n, H, W, 3];
  return {
    images: { data: normalize(Float32Array.from(batch.images)), shape },
    raw: { data: batch.images, shape },
    labels: batch.labels,
    ...(batch.masks ? { masks: { data: batch.masks, shape: [n, H, W] } } : {}),
    numClasses: dataset.numClasses,
  };
}
