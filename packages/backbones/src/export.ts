/**
 * Writing a trained backbone out for other frameworks: a TF.js Layers directory, or a
 * torchvision state dict in safetensors (for PyTorch, and from there Detectron2).
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { writeFileAtomic } from '@ediy/core/node';
import type { ResNetConfig } from './config.js';
import { saveModelToDir } from './fs-io.js';
import { writeSafetensors } from './safetensors.js';
import { exportTorchvisionWeights } from './torchvision-weights.js';
import type { ExportTorchvisionOptions } from './torchvision-weights.js';

/** The formats {@link exportBackbone} writes. */
export type BackboneExportFormat = 'tfjs' | 'torchvision';

/** Options of {@link exportBackbone}. */
export interface ExportBackboneOptions {
  /**
   * - `tfjs`: a TF.js Layers model directory (`model.json` + `weights.bin`, see
   *   {@link saveModelToDir}); `out` is the directory.
   * - `torchvision`: a torchvision ResNet state dict without `fc` (see
   *   {@link exportTorchvisionWeights}) in one safetensors file; `out` ends in `.safetensors`.
   */
  format: BackboneExportFormat;
  /** The directory (`tfjs`) or file (`torchvision`) to write; parents are created. */
  out: string;
  /** `torchvision` only: the float dtype of the stored tensors (default F32). */
  dtype?: ExportTorchvisionOptions['dtype'];
  /** `torchvision` only: the value of every `num_batches_tracked` (default 0). */
  numBatchesTracked?: number;
  /**
   * `torchvision` only: string metadata stored in the safetensors header (e.g.
   * `{format: 'pt'}`, which Python's `safetensors.torch` writes). Default: none.
   */
  metadata?: Readonly<Record<string, string>>;
}

/** What {@link exportBackbone} wrote. */
export interface ExportBackboneResult {
  /** The format written. */
  format: BackboneExportFormat;
  /** The absolute path of the directory or file written. */
  path: string;
  /** Bytes written (for `tfjs`, the weights only). */
  bytes: number;
  /** `torchvision`: the state-dict keys written, in order; `tfjs`: the weight names. */
  keys: string[];
}

/**
 * Writes a backbone built by `resnet` of `@ediy/backbones` (with `config`, e.g. restored from a
 * checkpoint) in the format asked for:
 *
 * - `tfjs`: {@link saveModelToDir}`(model, out)`, loadable with {@link loadModelFromDir} or
 *   `tf.loadLayersModel`.
 * - `torchvision`: `writeSafetensors(exportTorchvisionWeights(model, config, {dtype,
 *   numBatchesTracked}), metadata)` written to `out` atomically (a temporary file beside it,
 *   flushed, then renamed over it), so a reader never sees half a file and a failed export
 *   leaves an existing file untouched. The file loads with `safetensors.torch.load_file` into
 *   `torchvision.models.resnet<depth>()` by `load_state_dict(sd, strict=False)`, leaving only
 *   `fc.weight` and `fc.bias` missing (at width multiplier 1 with the `imagenet` stem; other
 *   configs have other shapes), and `tools/convert_to_detectron2.py` turns it into a
 *   Detectron2 checkpoint.
 *
 * The model is only read; the caller still owns (and disposes) it.
 * @throws when `format` is unknown, `out` is empty, a `torchvision` path does not end in
 *   `.safetensors` or is a directory, or the model does not match `config` (naming the key).
 */
export async function exportBackbone(
  model: LayersModel,
  config: ResNetConfig,
  options: ExportBackboneOptions,
): Promise<ExportBackboneResult> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`exportBackbone options must be {format, out}, got ${String(options)}`);
  }
  const { format, out } = options;
  if (typeof out !== 'string' || out.length === 0) {
    throw new TypeError(
      `exportBackbone options.out must be a non-empty path, got ${JSON.stringify(out)}`,
    );
  }
  const path = resolve(out);
  if (format === 'tfjs') {
    for (const key of ['dtype', 'numBatchesTracked', 'metadata'] as const) {
      if (options[key] !== undefined) {
        throw new Error(
          `exportBackbone options.${key} applies to format 'torchvision' only; got it with format 'tfjs'`,
        );
      }
    }
    const result = await saveModelToDir(model, path);
    return {
      format,
      path,
      bytes: result.modelArtifactsInfo.weightDataBytes ?? 0,
      keys: model.weights.map((w) => w.originalName),
    };
  }
  if (format === 'torchvision') {
    if (!path.endsWith('.safetensors')) {
      throw new Error(`exportBackbone: torchvision output ${path} must end in .safetensors`);
    }
    if (existsSync(path) && statSync(path).isDirectory()) {
      throw new Error(
        `exportBackbone: torchvision output ${path} is a directory; expected a file path`,
      );
    }
    const exportOptions: ExportTorchvisionOptions = {};
    if (options.dtype !== undefined) exportOptions.dtype = options.dtype;
    if (options.numBatchesTracked !== undefined)
      exportOptions.numBatchesTracked = options.numBatchesTracked;
    const state = exportTorchvisionWeights(model, config, exportOptions);
    const bytes = writeSafetensors(state, options.metadata);
    writeFileAtomic(path, bytes);
    return { format, path, bytes: bytes.byteLength, keys: [...state.keys()] };
  }
  throw new RangeError(
    `exportBackbone options.format must be 'tfjs' or 'torchvision', got ${JSON.stringify(format)}`,
  );
}
