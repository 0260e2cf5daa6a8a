/**
 * Checkpoints: a folder per step holding `state.json` (step, data position, RNG state,
 * config, weight names) and `tensors.safetensors` (every model weight, BatchNorm
 * statistics included, and the optimiser state). A checkpoint is written into a
 * temporary folder and renamed into place, so a crash never leaves a half-written
 * checkpoint where a resume would find it, and never touches the last good one. Both
 * files are flushed to the disk (fsync) before the rename, and the folder after it; a
 * file-system error names the path and the system's reason.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type SafeTensor } from '@ediy/backbones/interop';
import type { RngState } from '@ediy/core';
import {
  CHECKPOINT_FORMAT,
  checkpointName,
  checkpointPaths,
  listCheckpoints,
  readCheckpointState,
  syncFolder,
  writeFileAtomic,
} from '@ediy/core/node';
import type { NamedTensor } from '@ediy/optim';
import type { ExperimentConfig } from './config.js';
import { countNonFinite } from './finite.js';
import { fsCall } from './run-dir.js';

// The checkpoints' folder layout (names, listing, the newest complete one, the format
// version) is the run directory's, in @ediy/core/node; the trainer's API keeps its names.
export {
  CHECKPOINT_FORMAT,
  checkpointName,
  latestCheckpoint,
  listCheckpoints,
} from '@ediy/core/node';

/** The JSON half of a checkpoint. */
export interface CheckpointState {
  /** {@link CHECKPOINT_FORMAT}. */
  format: number;
  /** Optimiser steps completed. */
  step: number;
  /** The data loader's position after the last step. */
  dataPosition: { epoch: number; index: number };
  /** The run's random stream after the last step: four unsigned 32-bit words ({@link normalRngState}). */
  rng: RngState;
  /** The run's config. */
  config: ExperimentConfig;
  /** For each model key, the names of its weights in `getWeights()` order. */
  weights: Record<string, string[]>;
  /** Names of the optimiser's state tensors. */
  optimizer: string[];
  /** ISO time of writing. */
  createdAt: string;
}

/** A loaded checkpoint. The caller owns the tensors. */
export interface Checkpoint {
  /** Its folder. */
  dir: string;
  /** The JSON state. */
  state: CheckpointState;
  /** Model weights by model key, in `getWeights()` order. */
  weights: Record<string, tf.Tensor[]>;
  /** Optimiser state tensors by name. */
  optimizer: NamedTensor[];
}

/**
 * The one form an RNG state is stored in: each word as an unsigned 32-bit integer
 * (`Rng.state()` may hold a word as a signed one, depending on the operations that
 * produced it; both denote the same stream).
 */
export function normalRngState(state: RngState): RngState {
  if (!Array.isArray(state) || state.length !== 4 || state.some((w) => !Number.isInteger(w))) {
    throw new Error(`an RNG state must be four 32-bit integers, got ${JSON.stringify(state)}`);
  }
  return [state[0] >>> 0, state[1] >>> 0, state[2] >>> 0, state[3] >>> 0];
}

/**
 * Writes a checkpoint atomically into `dir/step-NNNNNNNN` and removes all but the newest
 * `keep` checkpoints (and any temporary folder a crash left behind).
 */
export async function saveCheckpoint(
  dir: string,
  state: Omit<CheckpointState, 'format' | 'createdAt' | 'weights' | 'optimizer'>,
  models: Record<
    string,
    { getWeights(): tf.Tensor[]; weights: ReadonlyArray<{ originalName: string }> }
  >,
  optimizerState: NamedTensor[],
  keep: number,
): Promise<string> {
  fsCall('create the checkpoint folder', dir, () => mkdirSync(dir, { recursive: true }));
  const final = join(dir, checkpointName(state.step));
  const tmp = join(dir, `.tmp-${checkpointName(state.step)}-${process.pid}`);
  fsCall('remove', tmp, () => rmSync(tmp, { recursive: true, force: true }));
  fsCall('create', tmp, () => mkdirSync(tmp));
  const tensors = new Map<string, SafeTensor>();
  const weightNames: Record<string, string[]> = {};
  const put = async (name: string, t: tf.Tensor): Promise<void> => {
    const values = await t.data();
    tensors.set(
      name,
      t.dtype === 'int32'
        ? {
            dtype: 'I64',
            shape: t.shape.slice(),
            data: BigInt64Array.from(values as Int32Array, (v) => BigInt(v)),
          }
        : { dtype: 'F32', shape: t.shape.slice(), data: Float32Array.from(values) },
    );
  };
  try {
    for (const [key, model] of Object.entries(models)) {
      // the variables themselves, not copies: read, never disposed here
      const values = model.getWeights();
      weightNames[key] = model.weights.map((w) => w.originalName);
      for (const [i, v] of values.entries()) await put(`${key}/${i}`, v);
    }
    for (const { name, tensor } of optimizerState) await put(`optimizer/${name}`, tensor);
    const bytes = writeSafetensors(tensors);
    const files = checkpointPaths(tmp);
    writeFileAtomic(files.tensors, bytes);
    const full: CheckpointState = {
      ...state,
      rng: normalRngState(state.rng),
      format: CHECKPOINT_FORMAT,
      weights: weightNames,
      optimizer: optimizerState.map((o) => o.name),
      createdAt: new Date().toISOString(),
    };
    // state.json last: a folder without it is never taken for a checkpoint.
    // writeFileAtomic flushes each file and then the temporary folder's entries.
    writeFileAtomic(files.state, `${JSON.stringify(full, null, 1)}\n`);
    fsCall('replace', final, () => rmSync(final, { recursive: true, force: true }));
    fsCall('rename the checkpoint into place:', final, () => renameSync(tmp, final));
    syncFolder(dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.tmp-')) rmSync(join(dir, name), { recursive: true, force: true });
  }
  const steps = listCheckpoints(dir);
  for (const step of steps.slice(0, Math.max(0, steps.length - keep))) {
    rmSync(join(dir, checkpointName(step)), { recursive: true, force: true });
  }
  return final;
}

/**
 * Reads one checkpoint folder, checking that it is complete and well formed: its
 * `state.json` ({@link readCheckpointState}: format, step, config, weight names) and
 * every tensor it names, each finite.
 * @throws naming the file (and the tensor) that is missing, malformed or not finite.
 */
export function loadCheckpoint(checkpointDir: string): Checkpoint {
  const { tensors: tensorPath } = checkpointPaths(checkpointDir);
  const state = readCheckpointState(checkpointDir) as unknown as CheckpointState;
  if (!existsSync(tensorPath)) throw new Error(`${tensorPath}: checkpoint tensors not found`);
  const stored = readSafetensors(
    new Uint8Array(fsCall('read', tensorPath, () => readFileSync(tensorPath))),
    tensorPath,
  );
  const take = (key: string, what: string): tf.Tensor => {
    const t = stored.get(key);
    if (!t) throw new Error(`${tensorPath}: tensor ${key} (${what}) missing`);
    if (t.dtype === 'F32') {
      const { nan, infinite } = countNonFinite(t.data as Float32Array);
      if (nan + infinite > 0) {
        throw new Error(
          `${tensorPath}: tensor ${key} (${what}) holds ${nan} NaN and ${infinite} infinite values (of ${t.data.length}): the checkpoint is damaged`,
        );
      }
    }
    return t.dtype === 'I64'
      ? tf.tensor(
          Int32Array.from(t.data as BigInt64Array, (v) => Number(v)),
          t.shape,
          'int32',
        )
      : tf.tensor(Float32Array.from(t.data as Float32Array), t.shape, 'float32');
  };
  const weights: Record<string, tf.Tensor[]> = {};
  const optimizer: NamedTensor[] = [];
  try {
    for (const [key, names] of Object.entries(state.weights)) {
      weights[key] = names.map((name, i) => take(`${key}/${i}`, name));
    }
    for (const name of state.optimizer)
      optimizer.push({ name, tensor: take(`optimizer/${name}`, 'optimiser state') });
  } catch (err) {
    tf.dispose([...Object.values(weights).flat(), ...optimizer.map((o) => o.tensor)]);
    throw err;
  }
  return { dir: checkpointDir, state, weights, optimizer };
}

/** Sets a model's weights from a checkpoint's list, checking count and shapes. */
export function restoreWeights(
  model: {
    setWeights(w: tf.Tensor[]): void;
    weights: ReadonlyArray<{ shape: ReadonlyArray<number | null>; originalName: string }>;
  },
  values: tf.Tensor[] | undefined,
  key: string,
): void {
  if (!values) throw new Error(`checkpoint has no weights for ${key}`);
  if (values.length !== model.weights.length) {
    throw new Error(
      `checkpoint has ${values.length} weights for ${key}, the model has ${model.weights.length}: was it made with another config?`,
    );
  }
  model.weights.forEach((w, i) => {
    const v = values[i] as tf.Tensor;
    if (!tf.util.arraysEqual(w.shape as number[], v.shape)) {
      throw new Error(
        `checkpoint weight ${key}/${i} (${w.originalName}) has shape [${v.shape.join(',')}], the model expects [${w.shape.join(',')}]`,
      );
    }
  });
  model.setWeights(values);
}
