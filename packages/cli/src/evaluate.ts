/**
 * `ediy eval`: the proxy metrics of a trained run, measured with its frozen online
 * backbone on held-out images: weighted kNN and linear-probe top-1 on the pooled
 * features, dense-probe mIoU on the region maps (when the data has masks), and the
 * region diversity of the maps.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { IMAGENET_NORMALIZE } from '@ediy/augment';
import { resnet } from '@ediy/backbones';
import {
  denseProbe,
  extractFeatures,
  fromLayersModel,
  knnEvaluate,
  linearProbe,
  regionDiversity,
  type HostArray,
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
import { openHeldOut } from './held-out.js';
import type { EvalMetrics } from './results.js';

/** How much evaluation a preset does. */
export interface EvalSettings {
  /** Most held-out images used (the first ones). */
  maxImages: number;
  /** Share of them the probes train on; the rest are the test set. */
  trainFraction: number;
  /** Neighbours of the kNN vote (capped at the probe training set's size). */
  knnK: number;
  /** Linear-probe epochs. */
  linearEpochs: number;
  /** Dense-probe epochs. */
  denseEpochs: number;
}

/** Evaluation budget of each preset. */
export const EVAL_SETTINGS: Readonly<Record<PresetName, EvalSettings>> = {
  smoke: { maxImages: 64, trainFraction: 0.5, knnK: 10, linearEpochs: 10, denseEpochs: 3 },
  mini: { maxImages: 512, trainFraction: 0.5, knnK: 20, linearEpochs: 40, denseEpochs: 10 },
  paper: { maxImages: 5000, trainFraction: 0.8, knnK: 20, linearEpochs: 100, denseEpochs: 20 },
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

/** Reads the first `max` held-out images of a run's data (see {@link openHeldOut}). */
export async function heldOutData(data: DataConfig, max: number): Promise<HeldOut> {
  const dataset = await openHeldOut(data, max);
  const n = Math.min(max, dataset.size);
  const batch = dataset.get(Array.from({ length: n }, (_, i) => i));
  const [H, W, C] = dataset.imageShape;
  if (C !== 3) throw new Error(`${dataset.name}: held-out images must have 3 channels, got ${C}`);
  const images = new Float32Array(batch.images.length);
  const { mean, std } = IMAGENET_NORMALIZE;
  for (let i = 0; i < images.length; i++) {
    const c = i % 3;
    images[i] = ((batch.images[i] as number) - (mean[c] as number)) / (std[c] as number);
  }
  const shape = [n, H, W, 3];
  return {
    images: { data: images, shape },
    raw: { data: batch.images, shape },
    labels: batch.labels,
    ...(batch.masks ? { masks: { data: batch.masks, shape: [n, H, W] } } : {}),
    numClasses: dataset.numClasses,
  };
}

function rows<T extends Float32Array | Int32Array>(
  a: HostArray<T>,
  start: number,
  end: number,
): HostArray<T> {
  const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
  return {
    data: a.data.subarray(start * per, end * per) as T,
    shape: [end - start, ...a.shape.slice(1)],
  };
}

/**
 * The proxy metrics of a frozen backbone on held-out images: the first
 * `trainFraction` of them train the probes (and are the kNN memory), the rest are
 * scored. Metrics that need labels or masks the data lacks are NaN. Leaves no tensors
 * behind.
 */
export function evaluateBackbone(
  model: LayersModel,
  data: HeldOut,
  settings: EvalSettings,
  seed = 0,
): EvalMetrics {
  const n = data.images.shape[0] as number;
  const nTrain = Math.floor(n * settings.trainFraction);
  if (nTrain < 2 || n - nTrain < 1)
    throw new Error(`evaluation needs at least 3 held-out images, got ${n}`);
  const features = extractFeatures(fromLayersModel(model), data.images, {
    maps: true,
    batchSize: 32,
  });
  const maps = features.maps as HostArray;
  const labelled = data.numClasses >= 2 && data.labels.every((l) => l >= 0);
  const trainLabels = data.labels.subarray(0, nTrain);
  const testLabels = data.labels.subarray(nTrain, n);
  const knnTop1 = labelled
    ? knnEvaluate({
        trainFeatures: rows(features.pooled, 0, nTrain),
        trainLabels,
        testFeatures: rows(features.pooled, nTrain, n),
        testLabels,
        numClasses: data.numClasses,
        k: Math.min(settings.knnK, nTrain),
      }).top1
    : NaN;
  const linearTop1 = labelled
    ? linearProbe({
        trainFeatures: rows(features.pooled, 0, nTrain),
        trainLabels,
        testFeatures: rows(features.pooled, nTrain, n),
        testLabels,
        numClasses: data.numClasses,
        epochs: settings.linearEpochs,
        batchSize: 64,
        seed,
      }).top1
    : NaN;
  const denseMIoU = data.masks
    ? denseProbe({
        trainMaps: rows(maps, 0, nTrain),
        trainMasks: rows(data.masks, 0, nTrain),
        testMaps: rows(maps, nTrain, n),
        testMasks: rows(data.masks, nTrain, n),
        numClasses: data.numClasses + 1,
        epochs: settings.denseEpochs,
        seed,
      }).mIoU
    : NaN;
  const diversity = regionDiversity(rows(maps, nTrain, n));
  return {
    knnTop1,
    linearTop1,
    denseMIoU,
    meanRegionCosine: diversity.meanRegionCosine,
    effectiveRank: diversity.effectiveRank,
  };
}

/** Options of {@link evaluateRun}. */
export interface EvaluateRunOptions {
  /** Held-out data (default: the run's own data config, `test` split). */
  data?: DataConfig;
  /** Evaluation budget (default: that of the preset the run's scale matches). */
  settings?: EvalSettings;
}

/** What {@link evaluateRun} measured and on what. */
export interface RunEvaluation {
  /** The metrics. */
  metrics: EvalMetrics;
  /** The checkpoint evaluated. */
  checkpoint: string;
  /** Its step. */
  step: number;
  /** Held-out images used. */
  images: number;
}

/** Evaluates the newest checkpoint of a run directory. */
export async function evaluateRun(
  runDir: string,
  options: EvaluateRunOptions = {},
): Promise<RunEvaluation> {
  const { model, config, step, checkpoint } = loadRunBackbone(runDir);
  try {
    const settings = options.settings ?? EVAL_SETTINGS[presetOf(config)];
    const data = await heldOutData(options.data ?? config.scale.data, settings.maxImages);
    const metrics = evaluateBackbone(model, data, settings, config.seed);
    return { metrics, checkpoint, step, images: data.images.shape[0] as number };
  } finally {
    model.dispose();
  }
}
