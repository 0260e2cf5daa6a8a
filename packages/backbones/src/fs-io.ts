/**
 * Saving and loading tfjs-layers models in the TF.js Layers format (`model.json` + binary
 * weights) on the local filesystem, with Node's `fs` only (no tfjs-node).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '@ediy/core/node';

/** The model topology and weights manifest file written by {@link fileSystemHandler}. */
export const MODEL_JSON = 'model.json';
/** The weights file written by {@link fileSystemHandler} (one shard). */
export const WEIGHTS_BIN = 'weights.bin';

const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  uint16: 2,
  float16: 2,
  complex64: 8,
};

/** `dir` itself, or the directory of a path ending in `/model.json`. */
function modelDir(path: string): string {
  const p = path.startsWith('file://') ? path.slice('file://'.length) : path;
  return resolve(basename(p) === MODEL_JSON ? dirname(p) : p);
}

function saveArtifacts(dir: string, artifacts: tf.io.ModelArtifacts): tf.io.SaveResult {
  if (artifacts.modelTopology instanceof ArrayBuffer) {
    throw new Error(
      `cannot save to ${dir}: the model topology is binary (a GraphDef); expected a Layers model topology (JSON)`,
    );
  }
  const weightData =
    artifacts.weightData === undefined
      ? new ArrayBuffer(0)
      : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const modelJSON: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology ?? {},
    format: artifacts.format ?? 'layers-model',
    // no key at all when the artifacts have none (JSON would drop an undefined anyway)
    ...(artifacts.generatedBy === undefined ? {} : { generatedBy: artifacts.generatedBy }),
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig !== undefined) modelJSON.trainingConfig = artifacts.trainingConfig;
  if (artifacts.signature !== undefined) modelJSON.signature = artifacts.signature;
  if (artifacts.userDefinedMetadata !== undefined)
    modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;
  if (artifacts.modelInitializer !== undefined)
    modelJSON.modelInitializer = artifacts.modelInitializer;

  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) {
      throw new Error(`cannot save a model to ${dir}: it exists and is not a directory`);
    }
    const present = readdirSync(dir);
    if (present.length > 0 && !present.includes(MODEL_JSON)) {
      throw new Error(
        `refusing to replace ${dir}: it is a non-empty directory without a ${MODEL_JSON}`,
      );
    }
  }
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = mkdtempSync(join(parent, `.${basename(dir)}.tmp-`));
  try {
    writeFileAtomic(join(tmp, WEIGHTS_BIN), new Uint8Array(weightData));
    writeFileAtomic(join(tmp, MODEL_JSON), JSON.stringify(modelJSON));
    if (existsSync(dir)) {
      const old = `${tmp}.old`;
      renameSync(dir, old);
      try {
        renameSync(tmp, dir);
      } catch (err) {
        renameSync(old, dir);
        throw err;
      }
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, dir);
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData }) };
}

function specBytes(spec: tf.io.WeightsManifestEntry): number | undefined {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const size = DTYPE_BYTES[dtype];
  if (size === undefined) return undefined;
  return spec.shape.reduce((a, b) => a * b, 1) * size;
}

function readModelJSON(jsonPath: string): tf.io.ModelJSON {
  if (!existsSync(jsonPath)) {
    throw new Error(`${jsonPath} not found: expected a TF.js Layers model.json there`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (err) {
    throw new Error(
      `${jsonPath} is not valid JSON (${(err as Error).message}); expected a TF.js Layers model.json`,
      {
        cause: err,
      },
    );
  }
  const json = parsed as Partial<tf.io.ModelJSON> | null;
  if (
    json === null ||
    typeof json !== 'object' ||
    json.modelTopology === undefined ||
    json.modelTopology === null
  ) {
    throw new Error(`${jsonPath} has no modelTopology; expected a TF.js Layers model.json`);
  }
  if (
    !Array.isArray(json.weightsManifest) ||
    json.weightsManifest.some((g) => !g || !Array.isArray(g.paths) || !Array.isArray(g.weights))
  ) {
    throw new Error(
      `${jsonPath} has no valid weightsManifest; expected [{paths: string[], weights: [...]}, ...]`,
    );
  }
  return json as tf.io.ModelJSON;
}

function loadWeightGroups(
  dir: string,
  manifest: tf.io.WeightsManifestConfig,
): [tf.io.WeightsManifestEntry[], ArrayBuffer] {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const group of manifest) {
    const parts: Uint8Array[] = [];
    for (const p of group.paths) {
      const file = resolve(dir, p);
      if (!existsSync(file)) {
        throw new Error(`weights file ${file} (listed in ${join(dir, MODEL_JSON)}) not found`);
      }
      parts.push(readFileSync(file));
    }
    const got = parts.reduce((a, b) => a + b.byteLength, 0);
    const sizes = group.weights.map(specBytes);
    if (sizes.every((s) => s !== undefined)) {
      const expected = (sizes as number[]).reduce((a, b) => a + b, 0);
      if (got !== expected) {
        const files = group.paths.map((p) => resolve(dir, p)).join(', ');
        throw new Error(
          `weights file ${files} holds ${got} bytes; ${group.weights.length} weights (${group.weights
            .slice(0, 3)
            .map((w) => w.name)
            .join(
              ', ',
            )}${group.weights.length > 3 ? ', ...' : ''}) need ${expected} (${got < expected ? 'truncated' : 'too long'})`,
        );
      }
    }
    for (const part of parts)
      buffers.push(
        part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength) as ArrayBuffer,
      );
    specs.push(...group.weights);
  }
  return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
}

/**
 * A `tf.io.IOHandler` for a directory on the local filesystem, holding `model.json` and
 * `weights.bin` (TF.js Layers format, readable by tfjs-node and the Python converter).
 * `path` is the directory, optionally with a `file://` prefix and a trailing `/model.json`.
 *
 * Saving writes both files into a temporary directory beside the target, then renames it
 * into place; an existing model directory is replaced (moved aside, then deleted), a
 * non-empty directory without `model.json` is never replaced. Loading checks that
 * `model.json` exists and parses, and that each weights file has exactly the bytes its
 * manifest entries need; errors name the file and the expectation.
 */
export function fileSystemHandler(path: string): tf.io.IOHandler {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(
      `model directory must be a non-empty path string, got ${JSON.stringify(path)}`,
    );
  }
  const dir = modelDir(path);
  return {
    save: async (artifacts) => saveArtifacts(dir, artifacts),
    load: async () => {
      const jsonPath = join(dir, MODEL_JSON);
      const json = readModelJSON(jsonPath);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) =>
        loadWeightGroups(dir, manifest),
      );
    },
  };
}

/**
 * Saves `model` to directory `dir` (see {@link fileSystemHandler} for the format and the
 * atomic replacement). Parent directories are created.
 */
export async function saveModelToDir(model: LayersModel, dir: string): Promise<tf.io.SaveResult> {
  return model.save(fileSystemHandler(dir));
}

/**
 * Loads a model saved by {@link saveModelToDir} (or any TF.js Layers model directory).
 * The caller owns the returned model (`model.dispose()`).
 */
export async function loadModelFromDir(dir: string): Promise<LayersModel> {
  return tfl.loadLayersModel(fileSystemHandler(dir));
}

let routerRegistered = false;

// tfjs routers return null for URLs they do not handle, although the type says IOHandler.
function fileRouter(url: string | string[]): tf.io.IOHandler {
  return (
    typeof url === 'string' && url.startsWith('file://') ? fileSystemHandler(url) : null
  ) as tf.io.IOHandler;
}

/**
 * Registers `file://` save and load routers, so that `model.save('file://dir')` and
 * `tf.loadLayersModel('file://dir/model.json')` use {@link fileSystemHandler}. Does nothing
 * when a `file://` handler already exists (e.g. tfjs-node is loaded), or on a second call.
 * @returns whether the routers were registered by this call.
 */
export function registerFileRouter(): boolean {
  if (routerRegistered) return false;
  const probe = 'file:///ediy-router-probe/model.json';
  if (tf.io.getLoadHandlers(probe).length > 0 || tf.io.getSaveHandlers(probe).length > 0)
    return false;
  tf.io.registerSaveRouter(fileRouter);
  tf.io.registerLoadRouter(fileRouter);
  routerRegistered = true;
  return true;
}
