/**
 * Import and export of torchvision ResNet state dicts (see {@link torchvisionStateKeys}).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { ResNetConfig } from './config.js';
import { hwioToOihw, oihwToHwio } from './layout.js';
import type { SafeTensor, SafetensorsDtype, StateDict } from './safetensors.js';
import { torchvisionStateKeys } from './torchvision-names.js';
import { describeResNetConfig, inferTorchvisionConfig } from './torchvision-infer.js';

/** Options of {@link importTorchvisionWeights}. */
export interface ImportTorchvisionOptions {
  /**
   * With `true` (default), any missing or unexpected key is an error, and nothing is loaded.
   * With `false`, the keys present are loaded and the others reported. A key whose shape
   * does not match is an error either way (as PyTorch's `load_state_dict`).
   */
  strict?: boolean;
}

/** What {@link importTorchvisionWeights} did. */
export interface ImportTorchvisionReport {
  /** Keys copied into the model. */
  loaded: string[];
  /** Keys the model needs that the state dict lacks (only non-empty when not strict). */
  missing: string[];
  /** Keys of the state dict the model has no place for (only non-empty when not strict). */
  unexpected: string[];
  /** Keys skipped by design: `fc.*` and `*.num_batches_tracked`. */
  ignored: string[];
}

type LayerVar = LayersModel['weights'][number];

interface Target {
  v: LayerVar;
  /** The torch shape (OIHW for kernels). */
  shape: number[];
  kernel: boolean;
}

function weightRole(v: LayerVar): string {
  const name = v.originalName;
  return name.slice(name.lastIndexOf('/') + 1);
}

/** The torchvision keys a model's conv and BN layers map to, with their variables. */
function modelTargets(model: LayersModel): Map<string, Target> {
  const targets = new Map<string, Target>();
  const bnParam: Record<string, string> = {
    gamma: 'weight',
    beta: 'bias',
    moving_mean: 'running_mean',
    moving_variance: 'running_var',
  };
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (layer.weights.length === 0) continue;
    for (const v of layer.weights) {
      const role = weightRole(v);
      let param: string | undefined;
      let kernel = false;
      if ((cls === 'Conv2D' || cls === 'FastConv2D') && role === 'kernel') {
        param = 'weight';
        kernel = true;
      } else if ((cls === 'Conv2D' || cls === 'FastConv2D') && role === 'bias') {
        param = 'bias';
      } else if (cls === 'BatchNormalization' || cls === 'FastBatchNormalization') {
        // tfjs's BatchNorm or ./batchnorm.ts's FastBatchNormalization: the same four weights
        param = bnParam[role];
      }
      if (param === undefined) {
        throw new Error(
          `layer '${layer.name}' (${cls}) weight '${v.originalName}' has no torchvision counterpart; expected only Conv2D and BatchNormalization weights`,
        );
      }
      const shape = kernel ? [v.shape[3], v.shape[2], v.shape[0], v.shape[1]] : v.shape.slice();
      targets.set(`${layer.name}.${param}`, { v, shape: shape as number[], kernel });
    }
  }
  return targets;
}

/** What the state dict looks like, for error messages. */
function architectureHint(state: StateDict | Readonly<Record<string, SafeTensor>>): string {
  try {
    return `the state dict looks like a ${describeResNetConfig(inferTorchvisionConfig(state))}`;
  } catch (err) {
    return (err as Error).message;
  }
}

function list(keys: string[]): string {
  const head = keys.slice(0, 12).join(', ');
  return keys.length > 12 ? `${head}, ... (${keys.length} in all)` : head;
}

/**
 * Copies a torchvision ResNet state dict (e.g. from {@link readSafetensors}) into a model
 * built by `resnet` (of `@ediy/backbones`): conv weights OIHW -> HWIO, BN
 * `weight`/`bias`/`running_mean`/`running_var` -> gamma/beta/moving_mean/moving_variance.
 * `fc.*` and `num_batches_tracked` are ignored. Every key is checked before anything is
 * written, so a failed import leaves the model unchanged.
 * @throws naming the missing and unexpected keys (when strict), keys whose shape differs
 *   (torch shape vs expected), keys with an integer dtype, and keys holding NaN or Infinity;
 *   the message also says which architecture the state dict looks like (see
 *   {@link inferTorchvisionConfig}), or why it is not a torchvision ResNet.
 */
export function importTorchvisionWeights(
  model: LayersModel,
  state: StateDict | Readonly<Record<string, SafeTensor>>,
  options: ImportTorchvisionOptions = {},
): ImportTorchvisionReport {
  const strict = options.strict ?? true;
  const entries = state instanceof Map ? [...state.entries()] : Object.entries(state);
  const targets = modelTargets(model);
  const report: ImportTorchvisionReport = { loaded: [], missing: [], unexpected: [], ignored: [] };
  const problems: string[] = [];
  const writes: { target: Target; values: Float32Array; key: string }[] = [];
  const seen = new Set<string>();
  for (const [key, t] of entries) {
    const target = targets.get(key);
    if (!target) {
      if (key.startsWith('fc.') || key.endsWith('.num_batches_tracked')) report.ignored.push(key);
      else report.unexpected.push(key);
      continue;
    }
    seen.add(key);
    if (!t || !Array.isArray(t.shape) || !t.data) {
      problems.push(`'${key}' is not a tensor ({dtype, shape, data})`);
      continue;
    }
    if (t.dtype === 'I64' || t.data instanceof BigInt64Array) {
      problems.push(`'${key}' has dtype ${t.dtype}; expected a float dtype (F32, F16, BF16, F64)`);
      continue;
    }
    if (t.shape.length !== target.shape.length || t.shape.some((d, i) => d !== target.shape[i])) {
      problems.push(
        `'${key}' has shape [${t.shape.join(', ')}]; the model expects [${target.shape.join(', ')}]`,
      );
      continue;
    }
    const data = t.data;
    const bad = data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      problems.push(
        `'${key}' holds ${String(data[bad])} at flat index ${bad}; expected finite values`,
      );
      continue;
    }
    const values = target.kernel ? oihwToHwio(data, t.shape) : Float32Array.from(data);
    writes.push({ target, values, key });
  }
  for (const key of targets.keys()) if (!seen.has(key)) report.missing.push(key);
  if (problems.length > 0) {
    throw new Error(
      `cannot import torchvision weights into '${model.name}': ${problems.join('; ')} (${architectureHint(state)})`,
    );
  }
  if (strict && (report.missing.length > 0 || report.unexpected.length > 0)) {
    const parts: string[] = [];
    if (report.missing.length > 0) parts.push(`missing keys: ${list(report.missing)}`);
    if (report.unexpected.length > 0) parts.push(`unexpected keys: ${list(report.unexpected)}`);
    throw new Error(
      `cannot import torchvision weights into '${model.name}' (strict): ${parts.join('; ')} (${architectureHint(state)}). Pass {strict: false} to load the keys that match.`,
    );
  }
  for (const { target, values, key } of writes) {
    const t = tf.tensor(values, target.v.shape as number[], 'float32');
    try {
      target.v.write(t);
    } finally {
      t.dispose();
    }
    report.loaded.push(key);
  }
  return report;
}

/** Options of {@link exportTorchvisionWeights}. */
export interface ExportTorchvisionOptions {
  /** The float dtype of the exported tensors (default F32). */
  dtype?: Exclude<SafetensorsDtype, 'I64'>;
  /** The value written to every `num_batches_tracked` (I64 scalar); default 0. */
  numBatchesTracked?: number;
}

/**
 * The inverse of {@link importTorchvisionWeights}: a torchvision state dict (without `fc`)
 * in torchvision's key order, conv kernels HWIO -> OIHW, ready for {@link writeSafetensors}
 * and for PyTorch's `load_state_dict(..., strict=False)` (strict once an `fc` is added).
 * The values are copied; the caller owns the returned arrays (no tensors are allocated
 * that outlive the call).
 * @throws when the model lacks a layer or weight the config implies, or shapes differ.
 */
export function exportTorchvisionWeights(
  model: LayersModel,
  config: ResNetConfig,
  options: ExportTorchvisionOptions = {},
): StateDict {
  const dtype = options.dtype ?? 'F32';
  if (!['F32', 'F16', 'BF16', 'F64'].includes(dtype)) {
    throw new RangeError(
      `export dtype must be F32, F16, BF16 or F64, got ${JSON.stringify(dtype)}`,
    );
  }
  const tracked = options.numBatchesTracked ?? 0;
  if (!Number.isSafeInteger(tracked) || tracked < 0) {
    throw new RangeError(
      `numBatchesTracked must be a non-negative integer, got ${String(tracked)}`,
    );
  }
  const targets = modelTargets(model);
  const out: StateDict = new Map();
  for (const k of torchvisionStateKeys(config)) {
    if (k.weight === null) {
      out.set(k.key, { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(tracked)) });
      continue;
    }
    const target = targets.get(k.key);
    if (!target) {
      throw new Error(
        `model '${model.name}' has no weight for torchvision key '${k.key}' (layer '${k.layer}'); does the config match the model?`,
      );
    }
    if (target.shape.join(',') !== k.shape.join(',')) {
      throw new Error(
        `model '${model.name}' weight for '${k.key}' has torch shape [${target.shape.join(', ')}]; the config implies [${k.shape.join(', ')}]`,
      );
    }
    const values = target.v.read().dataSync() as Float32Array;
    const data = target.kernel
      ? hwioToOihw(values, target.v.shape as number[])
      : Float32Array.from(values);
    out.set(k.key, {
      dtype,
      shape: k.shape.slice(),
      data: dtype === 'F64' ? Float64Array.from(data) : data,
    });
  }
  const extra = [...targets.keys()].filter((key) => !out.has(key));
  if (extra.length > 0) {
    throw new Error(`model '${model.name}' has weights the config does not imply: ${list(extra)}`);
  }
  return out;
}
