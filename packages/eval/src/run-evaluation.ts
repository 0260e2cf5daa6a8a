/**
 * Evaluating a run directory: the proxy metrics of a frozen backbone under one protocol
 * for every run and for the untrained floor. The kNN memory and the probes' training set
 * are a stratified, seeded, shuffled sample of the run's training part; the scored images
 * a sample of its held-out part, which pre-training never reads (`@ediy/data`'s
 * `openEvalParts`, the one held-out logic). Both samples are capped
 * ({@link DEFAULT_EVAL_SETTINGS}: 10,000 each) and read as streams: an image folder is
 * decoded a few batches ahead of the forward passes, never whole. Metrics: weighted kNN
 * top-1 (cosine, k = 20, T = 0.07, as solo-learn), linear-probe top-1 on standardised
 * pooled features, dense-probe mIoU on the region maps (when the data has masks), and the
 * region diversity of the scored images' maps; kNN and linear top-1 with a seeded 95%
 * bootstrap interval over the scored images.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGENET_NORMALIZE } from '@ediy/augment';
import { isBatchNormalization, resnet, type ResNetDepth, type ResNetStem } from '@ediy/backbones';
import { readSafetensors } from '@ediy/backbones/interop';
import type { HostArray } from '@ediy/core';
import { checkpointPaths, newestCheckpoint, readCheckpointState, runPaths } from '@ediy/core/node';
import {
  openEvalParts,
  type DataSpec,
  type EvalParts,
  type HeldOutKind,
  type ImageStream,
} from '@ediy/data';
import { denseProbeAsync } from './dense-probe.js';
import { extractFeaturesAsync } from './extract.js';
import { fromLayersModel, type FeatureExtractor } from './extractor.js';
import { bootstrapInterval, type Interval } from './intervals.js';
import { knnEvaluateAsync } from './knn.js';
import { linearProbeAsync } from './linear-probe.js';
import { regionDiversityAsync } from './region-metrics.js';

/** How much evaluation is done, and how. */
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
 * The default budget: at most 10,000 training images as memory and 10,000 held-out
 * images scored (the whole part where it is smaller: Fashion-MNIST's 10k test images are
 * all scored), k = 20 and T = 0.07, 20 linear-probe epochs in batches of 256, the dense
 * probe on 2,048 training maps for 10 epochs, region diversity on 2,048 scored maps, 1,000
 * bootstrap resamples. Feature extraction dominates: its cost is proportional to
 * `memory + test`.
 */
export const DEFAULT_EVAL_SETTINGS: Readonly<EvalSettings> = Object.freeze({
  memory: 10_000,
  test: 10_000,
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
});

/** Images per forward pass of the feature extraction (default of {@link EvaluateOptions.batchSize}). */
export const EVAL_BATCH_SIZE = 64;

/** The metrics of an evaluation (NaN where the data lacks labels or masks). */
export interface RunMetrics {
  /** Weighted kNN top-1 accuracy on the pooled features. */
  knnTop1: number;
  /** Linear-probe top-1 accuracy on the standardised pooled features. */
  linearTop1: number;
  /** Dense-probe mean IoU on the region maps; NaN without masks. */
  denseMIoU: number;
  /** Mean cosine similarity between the regions of an image (lower: more diverse). */
  meanRegionCosine: number;
  /** Effective rank of the region features (higher: more diverse). */
  effectiveRank: number;
}

/** The 95% intervals of the metrics that have one (kNN and linear top-1: bootstrap over scored images). */
export type MetricIntervals = Partial<Record<keyof RunMetrics, Interval>>;

/** What a run's config must hold for it to be evaluated (a `@ediy/trainer` `ExperimentConfig` does). */
export interface RunConfig {
  /** The run's seed: the untrained floor's initialisation and the probes' seed. */
  seed: number;
  /** The run's scale. */
  scale: {
    /** The backbone. */
    backbone: { depth: ResNetDepth; stem: ResNetStem; widthMultiplier: number };
    /** The data it trained on, whose parts are evaluated. */
    data: DataSpec;
  };
}

/** A step of an evaluation, for progress lines. */
export interface EvalProgress {
  /** `memory` / `scored` (features of the training / held-out sample), `batchnorm`, `knn`, `linear`, `dense`, `diversity`. */
  phase: 'memory' | 'scored' | 'batchnorm' | 'knn' | 'linear' | 'dense' | 'diversity';
  /** Images (or steps) of the phase done. */
  done: number;
  /** Images (or steps) of the phase in all. */
  total: number;
  /** Seconds since the evaluation started. */
  seconds: number;
}

/** Seconds of each part of an evaluation. */
export interface EvalTimings {
  /** Opening the data: the folder's scan and split, or the in-memory source. */
  open: number;
  /** Features of the memory and the scored images (decoding included: it overlaps the forward passes). */
  features: number;
  /** The kNN vote. */
  knn: number;
  /** The linear probe. */
  linear: number;
  /** The dense probe. */
  dense: number;
  /** The region diversity. */
  diversity: number;
}

/** What {@link evaluateBackbone} measured, on how many images, in how long. */
export interface BackboneEvaluation {
  /** The metrics (NaN where the data lacks labels or masks). */
  metrics: RunMetrics;
  /** 95% intervals (bootstrap over the scored images) of kNN and linear top-1. */
  intervals: MetricIntervals;
  /** Training images used as kNN memory and probe training set. */
  memory: number;
  /** Held-out images scored. */
  test: number;
  /** Wall-clock seconds of the evaluation (features, probes, intervals; with opening the data in {@link evaluateRun}). */
  seconds: number;
  /** Seconds of each part. */
  timings: EvalTimings;
}

/** Options of {@link evaluateBackbone}, {@link evaluateRun} and {@link evaluateUntrained}. */
export interface EvaluateOptions {
  /** Data whose training and held-out parts are used (default: the run's own data config). */
  data?: DataSpec;
  /** Evaluation budget (default {@link DEFAULT_EVAL_SETTINGS}). */
  settings?: EvalSettings;
  /** Replaces the budget's {@link EvalSettings.memory} (`Infinity`: the whole training part). */
  memory?: number;
  /** Replaces the budget's {@link EvalSettings.test} (`Infinity`: the whole held-out part). */
  test?: number;
  /** Already opened evaluation data (then `data` is not read). */
  evalData?: EvalParts;
  /** Images per forward pass (default {@link EVAL_BATCH_SIZE}). */
  batchSize?: number;
  /** Unreadable images of a folder are errors (default false: left out and reported). */
  strict?: boolean;
  /** Called after every batch of features and at the start of every other phase. */
  onProgress?: (progress: EvalProgress) => void;
}

/** The settings `options` asks for: the budget with its caps replaced. */
export function resolveEvalSettings(options: EvaluateOptions = {}): EvalSettings {
  const settings = { ...(options.settings ?? DEFAULT_EVAL_SETTINGS) };
  if (options.memory !== undefined) settings.memory = options.memory;
  if (options.test !== undefined) settings.test = options.test;
  for (const key of ['memory', 'test'] as const) {
    const v = settings[key];
    if (!(v === Infinity || (Number.isInteger(v) && v >= 1))) {
      throw new RangeError(
        `evaluation ${key} must be an integer >= 1 or Infinity, got ${String(v)}`,
      );
    }
  }
  return settings;
}

/** Images `[n,H,W,3]` in [0, 1], normalised in place as the training views are (ImageNet mean and std). */
function normalize(images: Float32Array): Float32Array {
  const { mean, std } = IMAGENET_NORMALIZE;
  const m = [mean[0], mean[1], mean[2]] as [number, number, number];
  const s = [1 / std[0], 1 / std[1], 1 / std[2]] as [number, number, number];
  for (let i = 0; i < images.length; i += 3) {
    images[i] = ((images[i] as number) - m[0]) * s[0];
    images[i + 1] = ((images[i + 1] as number) - m[1]) * s[1];
    images[i + 2] = ((images[i + 2] as number) - m[2]) * s[2];
  }
  return images;
}

/** Features of a stream's images, with the maps (and masks) of the first `mapsFor`. */
interface StreamFeatures {
  pooled: HostArray;
  labels: Int32Array;
  maps?: HostArray;
  masks?: HostArray<Int32Array>;
}

async function streamFeatures(
  extractor: FeatureExtractor,
  stream: ImageStream,
  mapsFor: number,
  batchSize: number,
  progress: (done: number) => void,
): Promise<StreamFeatures> {
  const n = stream.size;
  const [H, W, C3] = stream.imageShape;
  if (C3 !== 3) throw new Error(`${stream.name}: images must have 3 channels, got ${C3}`);
  const labels = new Int32Array(n);
  const m = Math.min(n, mapsFor);
  let pooled: Float32Array | undefined;
  let maps: Float32Array | undefined;
  let masks: Int32Array | undefined;
  let mapShape: number[] = [];
  let C = 0;
  let start = 0;
  for await (const batch of stream.batches(batchSize)) {
    const size = batch.labels.length;
    if (start + size > n)
      throw new Error(`${stream.name}: the stream gave more than its ${n} images`);
    labels.set(batch.labels, start);
    const withMaps = Math.max(0, Math.min(size, m - start));
    const f = await extractFeaturesAsync(
      extractor,
      { data: normalize(batch.images), shape: [size, H, W, 3] },
      { maps: withMaps > 0, batchSize },
    );
    C = f.pooled.shape[1] as number;
    pooled ??= new Float32Array(n * C);
    pooled.set(f.pooled.data, start * C);
    if (f.maps && withMaps > 0) {
      mapShape = f.maps.shape.slice(1) as number[];
      const per = mapShape.reduce((a, b) => a * b, 1);
      maps ??= new Float32Array(m * per);
      maps.set(f.maps.data.subarray(0, withMaps * per), start * per);
      if (batch.masks) {
        masks ??= new Int32Array(m * H * W);
        masks.set(batch.masks.subarray(0, withMaps * H * W), start * H * W);
      }
    }
    start += size;
    progress(start);
  }
  if (start !== n) throw new Error(`${stream.name}: the stream gave ${start} of its ${n} images`);
  return {
    pooled: { data: pooled ?? new Float32Array(0), shape: [n, C] },
    labels,
    ...(maps ? { maps: { data: maps, shape: [m, ...mapShape] } } : {}),
    ...(masks ? { masks: { data: masks, shape: [m, H, W] } } : {}),
  };
}

/**
 * The proxy metrics of a frozen backbone on evaluation data ({@link openEvalData}):
 * features of every training and scored image, streamed batch by batch (inference mode:
 * BatchNorm uses the model's moving statistics), the kNN vote and the linear probe
 * trained on the training sample and scored on the held-out sample, the dense probe on
 * the region maps of up to `denseTrain` training images (when the data has masks), the
 * region diversity of up to `diversityImages` scored images (NaN for maps of one
 * region). Leaves no tensors behind.
 * @throws when either sample is empty.
 */
export async function evaluateBackbone(
  model: LayersModel,
  data: EvalParts,
  settings: EvalSettings = DEFAULT_EVAL_SETTINGS,
  seed = 0,
  options: Pick<EvaluateOptions, 'batchSize' | 'onProgress'> = {},
): Promise<BackboneEvaluation> {
  const t0 = performance.now();
  const elapsed = (): number => (performance.now() - t0) / 1000;
  const say = (phase: EvalProgress['phase'], done: number, total: number): void =>
    options.onProgress?.({ phase, done, total, seconds: elapsed() });
  const batchSize = options.batchSize ?? EVAL_BATCH_SIZE;
  if (!(Number.isInteger(batchSize) && batchSize >= 1))
    throw new RangeError(`evaluation batchSize must be an integer >= 1, got ${String(batchSize)}`);
  const nTrain = data.train.size;
  const nTest = data.heldOut.size;
  if (nTrain < 1 || nTest < 1) {
    throw new Error(
      `evaluation needs training and held-out images, got ${nTrain} and ${nTest} (${data.train.name}, ${data.heldOut.name})`,
    );
  }
  const extractor = fromLayersModel(model);
  const masked = data.train.hasMasks && data.heldOut.hasMasks;
  const train = await streamFeatures(
    extractor,
    data.train,
    masked ? settings.denseTrain : 0,
    batchSize,
    (done) => say('memory', done, nTrain),
  );
  const test = await streamFeatures(
    extractor,
    data.heldOut,
    masked ? nTest : Math.min(nTest, settings.diversityImages),
    batchSize,
    (done) => say('scored', done, nTest),
  );
  let mark = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const s = (now - mark) / 1000;
    mark = now;
    return s;
  };
  const timings: EvalTimings = {
    open: 0,
    features: (mark - t0) / 1000,
    knn: 0,
    linear: 0,
    dense: 0,
    diversity: 0,
  };
  const numClasses = data.heldOut.numClasses;
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
    say('knn', 0, nTest);
    const knn = await knnEvaluateAsync({
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
    say('linear', 0, settings.linearEpochs);
    const linear = await linearProbeAsync({
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
  let denseMIoU = NaN;
  if (masked && train.maps && train.masks && test.maps && test.masks) {
    say('dense', 0, settings.denseEpochs);
    denseMIoU = (
      await denseProbeAsync({
        trainMaps: train.maps,
        trainMasks: train.masks,
        testMaps: test.maps,
        testMasks: test.masks,
        numClasses: numClasses + 1,
        epochs: settings.denseEpochs,
        seed,
      })
    ).mIoU;
  }
  timings.dense = lap();
  let diversity = { meanRegionCosine: NaN, effectiveRank: NaN };
  // Region diversity needs two or more regions per image (a 1x1 map has one).
  if (test.maps && (test.maps.shape[1] as number) * (test.maps.shape[2] as number) >= 2) {
    const maps = test.maps;
    const m = Math.min(maps.shape[0] as number, settings.diversityImages);
    say('diversity', 0, m);
    const per = maps.data.length / (maps.shape[0] as number);
    diversity = await regionDiversityAsync({
      data: maps.data.subarray(0, m * per),
      shape: [m, ...maps.shape.slice(1)],
    });
  }
  timings.diversity = lap();
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
    seconds: elapsed(),
    timings,
  };
}

/**
 * Opens the evaluation data of a data spec under `settings`: at most `memory` training
 * and `test` held-out images, each a stratified sample in a seeded shuffled order, as
 * streams (`@ediy/data`'s `openEvalParts`). `seed` (default 0) is the sampling seed; keep
 * it fixed so that every run of a table is scored on the same images.
 */
export async function openEvalData(
  data: DataSpec,
  settings: EvalSettings = DEFAULT_EVAL_SETTINGS,
  seed = 0,
  options: { strict?: boolean } = {},
): Promise<EvalParts> {
  return openEvalParts(data, {
    memory: settings.memory,
    scored: settings.test,
    seed,
    ...(options.strict !== undefined ? { strict: options.strict } : {}),
  });
}

// The newest complete checkpoint folder of a run: the run directory's layout is @ediy/core/node's.
export { newestCheckpoint } from '@ediy/core/node';

/** A trained run's online backbone, read from its newest checkpoint; `C` is the config type the caller knows it to have. */
export interface RunBackbone<C extends RunConfig = RunConfig> {
  /** The backbone (outputs `[layer4 map, pooled]`, frozen); the caller disposes it. */
  model: LayersModel;
  /** The run's config, as the checkpoint stores it. */
  config: C;
  /** The checkpoint's step. */
  step: number;
  /** The checkpoint folder. */
  checkpoint: string;
}

/**
 * Loads the online backbone of the newest checkpoint of `runDir` (a run directory of
 * `@ediy/trainer`: `checkpoints/step-*` holding `state.json` and `tensors.safetensors`),
 * reading only the backbone's tensors (not the optimiser's, target's or projectors').
 * @throws naming the folder when it holds no checkpoint, or the file and tensor when one
 *   is missing or does not fit the architecture.
 */
export function loadRunBackbone<C extends RunConfig = RunConfig>(
  runDir: string,
  name = 'backbone',
): RunBackbone<C> {
  if (!existsSync(runDir)) throw new Error(`${runDir}: run directory not found`);
  const dir = newestCheckpoint(runDir);
  if (!dir)
    throw new Error(
      `${runDir}: no checkpoint (expected ${join(runPaths(runDir).checkpoints, 'step-*', 'state.json')}); is it a run directory of 'ediy pretrain'?`,
    );
  const { state: statePath, tensors: tensorPath } = checkpointPaths(dir);
  // format, step, config and weight names checked, naming state.json
  const state = readCheckpointState(dir) as {
    step: number;
    config: C;
    weights: Record<string, string[]>;
  };
  const names = state.weights['online.backbone'];
  if (!Array.isArray(names) || typeof state.config?.scale?.backbone !== 'object') {
    throw new Error(
      `${statePath}: not a checkpoint state (expected weights['online.backbone'] and config.scale.backbone)`,
    );
  }
  if (!existsSync(tensorPath)) throw new Error(`${tensorPath}: checkpoint tensors not found`);
  const stored = readSafetensors(new Uint8Array(readFileSync(tensorPath)), tensorPath);
  const config = state.config;
  const model = resnet({ ...config.scale.backbone, name, seed: 0 });
  try {
    if (names.length !== model.weights.length) {
      throw new Error(
        `${tensorPath}: ${names.length} backbone weights, the model of config.scale.backbone has ${model.weights.length}`,
      );
    }
    const values = model.weights.map((w, i) => {
      const t = stored.get(`online.backbone/${i}`);
      if (!t) throw new Error(`${tensorPath}: tensor online.backbone/${i} (${names[i]}) missing`);
      if (!tf.util.arraysEqual(w.shape as number[], t.shape)) {
        throw new Error(
          `${tensorPath}: online.backbone/${i} (${names[i]}) has shape [${t.shape.join(',')}], the model expects [${w.shape.join(',')}]`,
        );
      }
      return tf.tensor(Float32Array.from(t.data as Float32Array), t.shape, 'float32');
    });
    model.setWeights(values);
    tf.dispose(values);
  } catch (err) {
    model.dispose();
    throw err;
  }
  model.trainable = false;
  return { model, config, step: state.step, checkpoint: dir };
}

/** What {@link evaluateRun} measured and on what. */
export interface RunEvaluation extends BackboneEvaluation {
  /** The checkpoint evaluated. */
  checkpoint: string;
  /** Its step. */
  step: number;
  /** How the held-out part was found. */
  heldOut: HeldOutKind;
  /** Sizes of the whole training and held-out parts, before sampling. */
  sizes: { train: number; heldOut: number };
  /** The data's report (parts, samples, unreadable images). */
  report: string;
}

/**
 * Evaluates the newest checkpoint of a run directory (BatchNorm with the run's moving
 * statistics) on its own data's parts, or `options.data`'s: at most
 * {@link EvalSettings.memory} training images as memory and {@link EvalSettings.test}
 * held-out images scored (default 10,000 each), streamed. `seconds` and `timings`
 * include opening the data.
 */
export async function evaluateRun(
  runDir: string,
  options: EvaluateOptions = {},
): Promise<RunEvaluation> {
  const t0 = performance.now();
  const settings = resolveEvalSettings(options);
  const { model, config, step, checkpoint } = loadRunBackbone(runDir);
  try {
    const data =
      options.evalData ??
      (await openEvalData(options.data ?? config.scale.data, settings, 0, options));
    const open = (performance.now() - t0) / 1000;
    const evaluation = await evaluateBackbone(model, data, settings, config.seed, options);
    return {
      ...evaluation,
      seconds: (performance.now() - t0) / 1000,
      timings: { ...evaluation.timings, open },
      checkpoint,
      step,
      heldOut: data.how,
      sizes: data.sizes,
      report: data.report,
    };
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
export function untrainedBackbone(config: RunConfig, name = 'untrained_backbone'): LayersModel {
  const model = resnet({ ...config.scale.backbone, name, seed: config.seed });
  model.trainable = false;
  return model;
}

/**
 * Sets a model's BatchNorm moving statistics to the statistics of data ("precise
 * BatchNorm"): `batches` forward passes in training mode (`model.apply(x, { training:
 * true })`: every BatchNorm layer normalises with its batch's mean and biased variance)
 * over consecutive batches of `batchSize` images of `stream`, starting over when it ends;
 * each layer's moving mean and variance become the averages of its batch statistics over
 * the passes (PyTorch's cumulative average, `momentum=None`). The batch statistics are
 * read back from the moving averages tfjs-layers updates in each pass (new = m old +
 * (1 - m) batch, m the layer's momentum). Weights other than the moving statistics are
 * not changed. Leaves no tensors behind.
 */
export async function estimateBatchNorm(
  model: LayersModel,
  stream: ImageStream,
  batches: number,
  batchSize: number,
): Promise<void> {
  if (!(Number.isInteger(batches) && batches >= 1))
    throw new RangeError(`estimateBatchNorm: batches must be an integer >= 1, got ${batches}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 2))
    throw new RangeError(`estimateBatchNorm: batchSize must be an integer >= 2, got ${batchSize}`);
  const [H, W] = stream.imageShape;
  const size = Math.min(batchSize, stream.size);
  if (size < 2) throw new Error(`estimateBatchNorm: ${stream.name} has fewer than 2 images`);
  // tfjs's BatchNormalization and @ediy/backbones' FastBatchNormalization (the trainer's).
  const layers = model.layers.filter((l) => isBatchNormalization(l));
  // Weights of a BatchNormalization layer: [gamma, beta, moving mean, moving variance].
  const stats = (l: (typeof layers)[number]): Promise<Float32Array[]> =>
    Promise.all(
      l
        .getWeights()
        .slice(-2)
        .map(async (w) => (await w.data()) as Float32Array),
    );
  // The statistics after a pass are those before the next one: read once.
  let current = await Promise.all(layers.map(stats));
  const sums = current.map((s) => s.map((a) => new Float64Array(a.length)));
  let done = 0;
  while (done < batches) {
    for await (const batch of stream.batches(size)) {
      const n = batch.labels.length;
      if (n < 2) continue; // a last batch of one image has no variance
      const before = current;
      const images = normalize(batch.images);
      tf.tidy(() => {
        model.apply(tf.tensor4d(images, [n, H, W, 3]), { training: true });
      });
      const after = await Promise.all(layers.map(stats));
      current = after;
      layers.forEach((l, k) => {
        const m = (l.getConfig().momentum as number | undefined) ?? 0.99;
        (after[k] as Float32Array[]).forEach((now, s) => {
          const old = before[k]?.[s] as Float32Array;
          const sum = sums[k]?.[s] as Float64Array;
          for (let c = 0; c < now.length; c++) {
            sum[c] = (sum[c] as number) + ((now[c] as number) - m * (old[c] as number)) / (1 - m);
          }
        });
      });
      if (++done === batches) break;
    }
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
  config: RunConfig,
  options: EvaluateOptions = {},
): Promise<UntrainedEvaluation> {
  const t0 = performance.now();
  const settings = resolveEvalSettings(options);
  const data =
    options.evalData ??
    (await openEvalData(options.data ?? config.scale.data, settings, 0, options));
  const conventions = {} as Record<BnConvention, BackboneEvaluation>;
  for (const convention of BN_CONVENTIONS) {
    const model = untrainedBackbone(config);
    try {
      const t1 = performance.now();
      if (convention === 'estimated') {
        options.onProgress?.({
          phase: 'batchnorm',
          done: 0,
          total: settings.bnBatches,
          seconds: (t1 - t0) / 1000,
        });
        await estimateBatchNorm(model, data.train, settings.bnBatches, settings.bnBatchSize);
      }
      const evaluation = await evaluateBackbone(model, data, settings, config.seed, options);
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
export interface HeldOutImages {
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
 * shows. For an image folder only those images are decoded.
 */
export async function heldOutImages(data: DataSpec, max: number, seed = 0): Promise<HeldOutImages> {
  if (!(Number.isInteger(max) && max >= 1))
    throw new RangeError(`heldOutImages: max must be an integer >= 1, got ${String(max)}`);
  // the embedded scenes draw as many held-out scenes as are asked for
  const stream = (
    await openEvalParts(data, {
      memory: 1,
      scored: max,
      seed,
      ...(data?.kind === 'scenes' ? { heldOutCount: max } : {}),
    })
  ).heldOut;
  const [H, W, C] = stream.imageShape;
  if (C !== 3) throw new Error(`${stream.name}: held-out images must have 3 channels, got ${C}`);
  const n = stream.size;
  const raw = new Float32Array(n * H * W * 3);
  const labels = new Int32Array(n);
  const masks = stream.hasMasks ? new Int32Array(n * H * W) : undefined;
  let start = 0;
  for await (const b of stream.batches(64)) {
    raw.set(b.images, start * H * W * 3);
    labels.set(b.labels, start);
    if (masks && b.masks) masks.set(b.masks, start * H * W);
    start += b.labels.length;
  }
  const shape = [n, H, W, 3];
  return {
    images: { data: normalize(Float32Array.from(raw)), shape },
    raw: { data: raw, shape },
    labels,
    ...(masks ? { masks: { data: masks, shape: [n, H, W] } } : {}),
    numClasses: stream.numClasses,
  };
}
