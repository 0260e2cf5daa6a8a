import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors } from '@ediy/backbones/interop';
import type { SafeTensor, StateDict } from '@ediy/backbones/interop';

/** Path of a committed fixture (made by tools/make_resnet_fixture.py). */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** Raw bytes of a fixture. */
export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fixturePath(name)));
}

/** A fixture parsed as a state dict. */
export function fixtureState(name: string): StateDict {
  return readSafetensors(fixtureBytes(name), name);
}

/** The tensor `key` of a state dict (throws if absent). */
export function get(state: StateDict, key: string): SafeTensor {
  const t = state.get(key);
  if (!t) throw new Error(`fixture has no tensor '${key}'`);
  return t;
}

/** An NCHW fixture tensor as an NHWC tf tensor (caller disposes). */
export function nchwToNhwc(t: SafeTensor): tf.Tensor {
  return tf.tidy(() =>
    tf.transpose(
      tf.tensor(Float32Array.from(t.data as Float32Array), t.shape, 'float32'),
      [0, 2, 3, 1],
    ),
  );
}

/** max |a - b| / max |b|. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return diff / scale;
}

/** A model's saved artifacts (topology and weights), kept in memory. */
export async function saveToMemory(model: {
  save(handler: tf.io.IOHandler): Promise<tf.io.SaveResult>;
}): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (saved === undefined) throw new Error('saveToMemory: the model saved nothing');
  return saved;
}
