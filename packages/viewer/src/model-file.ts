/**
 * Reads an exported backbone from a path for the viewer's site: a TF.js Layers model
 * directory (or its `model.json`) or a torchvision `.safetensors` file, as `ediy export`
 * writes them. Node only (it reads files; the conversion is `./models.ts`, shared with
 * the page).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadModelFromDir } from '@ediy/backbones/node';
import { isRunDir } from '@ediy/core/node';
import {
  backboneFromLayersModel,
  backboneFromTorchvision,
  backboneWeightsFile,
  type ImportedBackbone,
  type ModelFormat,
} from './models.js';
import type { ViewerBackbone } from './site.js';

/** A path that is not an exported backbone: names it and what was expected there. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

const EXPECTED =
  "expected a TF.js Layers model directory (model.json + weights.bin, 'ediy export') or a torchvision ResNet state dict (.safetensors, 'ediy export --format torchvision')";

/** An exported backbone read for the page. */
export interface ModelFile {
  /** The path as given. */
  path: string;
  /** The format it was read in. */
  format: ModelFormat;
  /** Its architecture, read off the weights. */
  backbone: ViewerBackbone;
  /** Its weights as the page fetches them (tensors `0..count-1`). */
  bytes: Uint8Array;
  /** How many tensors. */
  count: number;
}

/** A model file's label: `ediy-r18` for `models/ediy-r18` or `models/ediy-r18.safetensors`. */
export function modelLabel(path: string): string {
  return basename(path.replace(/[\\/]+$/, ''))
    .replace(/\.safetensors$/, '')
    .replace(/^model\.json$/, basename(join(path, '..')));
}

/**
 * Reads an exported backbone: a directory holding `model.json` (or the `model.json`
 * itself), or a `.safetensors` file. Needs a tfjs backend (any: cpu does).
 * @throws ModelFileError naming the path and what was expected there: missing, a run
 *   folder (which `ediy view` takes as a positional), a directory without `model.json`,
 *   another kind of file, or weights that are not a ResNet of ediy / torchvision.
 */
export async function readModelFile(path: string, name = 'model'): Promise<ModelFile> {
  if (!existsSync(path)) throw new ModelFileError(`${path}: not found; ${EXPECTED}`);
  let imported: ImportedBackbone;
  const isDir = statSync(path).isDirectory();
  if (isDir || basename(path) === 'model.json') {
    const dir = isDir ? path : join(path, '..');
    if (!existsSync(join(dir, 'model.json'))) {
      const hint = isRunDir(dir)
        ? " (it is a run folder: pass it to 'ediy view' as a run, not as a model)"
        : '';
      throw new ModelFileError(`${dir}: no model.json in this directory${hint}; ${EXPECTED}`);
    }
    let loaded;
    try {
      loaded = await loadModelFromDir(dir);
    } catch (err) {
      throw new ModelFileError(`${join(dir, 'model.json')}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      imported = backboneFromLayersModel(loaded, join(dir, 'model.json'), name);
    } catch (err) {
      throw new ModelFileError((err as Error).message, { cause: err });
    } finally {
      loaded.dispose();
    }
  } else if (path.endsWith('.safetensors')) {
    try {
      imported = backboneFromTorchvision(new Uint8Array(readFileSync(path)), path, name);
    } catch (err) {
      throw new ModelFileError(
        `${(err as Error).message.startsWith(path) ? '' : `${path}: `}${(err as Error).message}; ${EXPECTED}`,
        { cause: err },
      );
    }
  } else {
    throw new ModelFileError(`${path}: neither a directory nor a .safetensors file; ${EXPECTED}`);
  }
  try {
    const { bytes, count } = backboneWeightsFile(imported.model);
    return { path, format: imported.format, backbone: imported.backbone, bytes, count };
  } finally {
    imported.model.dispose();
  }
}
