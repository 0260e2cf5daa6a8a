/**
 * How much memory a training step of a config needs, by formula over the architecture,
 * so that a run too large for its backend stops with a clear error before the first
 * step instead of the wasm heap aborting in the middle of it.
 */
import { totalmem } from 'node:os';
import { featureChannels, resolveResNetConfig, type ResNetConfig } from '@ediy/backbones';
import type { ExperimentConfig } from './config.js';

/** Bytes of a float32. */
const F32 = 4;

/**
 * Float32 tensors a step holds per element of the online network's conv outputs, for
 * one micro-batch of two views: each conv unit's output and its BatchNorm's and ReLU's
 * kept for the backward pass, the gradients flowing back through them, the target's and
 * the teacher's forward of the same views and the kernels' temporaries. Measured, not
 * derived: with 6, `tf.profile`'s peak of a whole one-step run was 0.76-1.05 times the
 * estimate on ResNet-18 and ResNet-50 at 32-64 px (the estimate test keeps it within 1.5x;
 * it was 7 before the backbones padded inside their convolutions and summed into their
 * ReLUs, which hold fewer maps).
 */
export const ACTIVATION_COPIES = 6;

/** The largest wasm heap (the tfjs wasm module's maximum: 4 GiB less one 64 KiB page). */
export const WASM_HEAP_LIMIT = 4294901760;

/** A step's memory by part, in bytes. */
export interface MemoryEstimate {
  /** Online, target and teacher weights (with BatchNorm statistics). */
  weights: number;
  /** LARS's momentum (one value per trainable online weight). */
  optimizer: number;
  /** The gradients of a micro-batch, and their sum when accumulating. */
  gradients: number;
  /** What the online forward keeps for its backward, for one micro-batch of two views. */
  activations: number;
  /** The micro-batch's two views and the frozen networks' outputs. */
  inputs: number;
  /** The sum. */
  total: number;
  /** Trainable parameters of the online network. */
  onlineParameters: number;
}

interface BackboneShape {
  /** Parameters (conv kernels, BN gamma/beta) and BN moving statistics. */
  parameters: number;
  statistics: number;
  /** Elements of every conv output of one image (summed over layers). */
  featureElements: number;
  /** Side of the layer4 map. */
  mapSide: number;
}

/** Parameters and conv-output elements of a ResNet at a square input of side `size`. */
function backboneShape(backbone: ResNetConfig, size: number): BackboneShape {
  const c = resolveResNetConfig(backbone);
  let parameters = 0;
  let statistics = 0;
  let elements = 0;
  const conv = (cin: number, cout: number, k: number, side: number): void => {
    parameters += k * k * cin * cout + 2 * cout; // kernel, BN gamma and beta
    statistics += 2 * cout; // BN moving mean and variance
    elements += side * side * cout;
  };
  const down = (n: number): number => Math.ceil(n / 2);
  let side = size;
  if (c.stem === 'imagenet') {
    side = down(side);
    conv(3, c.baseWidth, 7, side);
    side = down(side); // max-pool
  } else {
    conv(3, c.baseWidth, 3, side);
  }
  let channels = c.baseWidth;
  for (let stage = 0; stage < 4; stage++) {
    const width = c.baseWidth * 2 ** stage;
    const out = width * c.expansion;
    for (let i = 0; i < c.blocks[stage]!; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const inSide = side;
      if (stride === 2) side = down(side);
      if (c.block === 'basic') {
        conv(channels, width, 3, side);
        conv(width, width, 3, side);
      } else {
        conv(channels, width, 1, inSide);
        conv(width, width, 3, side);
        conv(width, out, 1, side);
      }
      if (stride !== 1 || channels !== out) conv(channels, out, 1, side);
      elements += side * side * out; // the block's sum
      channels = out;
    }
  }
  return { parameters, statistics, featureElements: elements, mapSide: side };
}

/** Parameters of a two-layer head `in -> hidden (BN, ReLU) -> out`. */
function head(inputs: number, hidden: number, out: number): number {
  return inputs * hidden + hidden + 2 * hidden + hidden * out;
}

/**
 * The memory one optimiser step of `config` needs, by formula: weights of the online
 * network (ResNet + global and local projectors and predictors), the target (ResNet +
 * projectors) and the teacher (a ResNet of the same shape when one is used), LARS's
 * momentum, the gradients (twice with accumulation: a micro-batch's and the running
 * sum), what the online forward keeps for the backward pass over one micro-batch of two
 * views ({@link ACTIVATION_COPIES} float32 tensors per conv-output element), and the
 * views themselves. A micro-batch is `scale.batchSize` images: accumulation adds steps,
 * not memory. The estimate is of tensors only (not the JS engine or the data loader).
 */
export function estimateStepMemory(config: ExperimentConfig): MemoryEstimate {
  const { scale, method } = config;
  const size = scale.imageSize;
  const bb = backboneShape(scale.backbone, size);
  const channels = featureChannels(scale.backbone);
  const { hidden, out } = scale.projector;
  const projector = head(channels, hidden, out);
  const predictor = head(out, hidden, out);
  const onlineParameters =
    bb.parameters + 2 * projector + predictor + (method.localPredictor ? predictor : 0);
  const targetValues = bb.parameters + bb.statistics + 2 * projector;
  const usesTeacher = method.regionLosses.some((t) => t.matcher === 'teacher');
  const teacherValues = usesTeacher ? bb.parameters + bb.statistics : 0;
  const weights = F32 * (onlineParameters + bb.statistics + targetValues + teacherValues);
  // LARS's momentum, and the new values of every variable while an update is applied.
  const optimizer = 2 * F32 * onlineParameters;
  const gradients = F32 * onlineParameters * (scale.accumulate > 1 ? 2 : 1);
  const images = 2 * scale.batchSize; // two views
  const activations = F32 * ACTIVATION_COPIES * images * bb.featureElements;
  const map = bb.mapSide * bb.mapSide * channels;
  const inputs =
    F32 * images * (size * size * 3 + map * (1 + (usesTeacher ? 1 : 0)) + 4 * (hidden + out));
  return {
    weights,
    optimizer,
    gradients,
    activations,
    inputs,
    total: weights + optimizer + gradients + activations + inputs,
    onlineParameters,
  };
}

/** `n` bytes as GB (or MB below one GB), for messages. */
export function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GB` : `${(n / 2 ** 20).toFixed(0)} MB`;
}

/** One line for the start of a run: the estimate by part. */
export function describeEstimate(config: ExperimentConfig, e: MemoryEstimate): string {
  const { batchSize, accumulate } = config.scale;
  return (
    `memory estimate ${formatBytes(e.total)} for a micro-batch of ${batchSize} (x${accumulate} = ${batchSize * accumulate} a step): ` +
    `activations ${formatBytes(e.activations)}, weights ${formatBytes(e.weights)}, optimiser ${formatBytes(e.optimizer)}, ` +
    `gradients ${formatBytes(e.gradients)}, views ${formatBytes(e.inputs)}`
  );
}

/** The memory limit of a tfjs backend: the wasm heap, the machine's memory on cpu; undefined when not known (GPUs, tfjs-node). */
export function backendMemoryLimit(tfjsBackend: string): number | undefined {
  if (tfjsBackend === 'wasm') return WASM_HEAP_LIMIT;
  if (tfjsBackend === 'cpu') return totalmem();
  return undefined;
}

/** The largest micro-batch dividing the effective batch whose estimate is within `limit` (0 when none). */
function largestFitting(config: ExperimentConfig, limit: number): number {
  const effective = config.scale.batchSize * config.scale.accumulate;
  for (let b = config.scale.batchSize - 1; b >= 2; b--) {
    if (effective % b !== 0) continue;
    const scale = { ...config.scale, batchSize: b, accumulate: effective / b };
    if (estimateStepMemory({ ...config, scale }).total <= limit) return b;
  }
  return 0;
}

/** A run whose estimated memory exceeds its backend's limit. */
export class MemoryLimitError extends Error {
  /**
   * @param estimate - the step's estimate.
   * @param limit - the backend's limit in bytes.
   * @param backend - the tfjs backend.
   * @param advice - what would fit.
   */
  constructor(
    readonly estimate: MemoryEstimate,
    readonly limit: number,
    readonly backend: string,
    advice: string,
  ) {
    super(
      `a training step needs about ${formatBytes(estimate.total)} by estimate (activations ${formatBytes(estimate.activations)}, weights ${formatBytes(estimate.weights)}, optimiser ${formatBytes(estimate.optimizer)}), more than the ${backend} backend's limit of ${formatBytes(limit)}; ${advice}`,
    );
    this.name = 'MemoryLimitError';
  }
}

/**
 * Checks that a config's step fits its backend's memory ({@link backendMemoryLimit}).
 * @returns the estimate.
 * @throws MemoryLimitError naming the estimate, the limit and a micro-batch x
 *   accumulation with the same effective batch that fits, when there is one.
 */
export function checkStepMemory(config: ExperimentConfig, tfjsBackend: string): MemoryEstimate {
  const estimate = estimateStepMemory(config);
  const limit = backendMemoryLimit(tfjsBackend);
  if (limit === undefined || estimate.total <= limit) return estimate;
  const effective = config.scale.batchSize * config.scale.accumulate;
  const b = largestFitting(config, limit);
  const advice =
    b > 0
      ? `scale.batchSize ${b} with scale.accumulate ${effective / b} (--batch ${b} --accumulate ${effective / b}) keeps the effective batch of ${effective} and fits`
      : `no micro-batch of this network and image size fits; lower scale.imageSize or the backbone's width, or use a GPU backend`;
  throw new MemoryLimitError(estimate, limit, tfjsBackend, advice);
}
