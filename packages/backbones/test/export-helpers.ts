import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { Rng } from '@ediy/core';
import { torchvisionStateKeys, writeSafetensors } from '@ediy/backbones/interop';
import type { ResNetConfig } from '@ediy/backbones';
import type { StateDict } from '@ediy/backbones/interop';

/** Path of a script in the repository's tools/. */
export function toolPath(name: string): string {
  return fileURLToPath(new URL(`../../../tools/${name}`, import.meta.url));
}

/** The Python with torch and torchvision: $EDIY_TORCH_PYTHON, by default Debian's /usr/bin/python3. */
export const TORCH_PYTHON = process.env['EDIY_TORCH_PYTHON'] ?? '/usr/bin/python3';

/**
 * Why `python -c code` cannot run (a message naming what is missing), or `null` when it can.
 */
export function pythonMissing(python: string, modules: string[]): string | null {
  const r = spawnSync(python, ['-c', `import ${modules.join(', ')}`], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error) return `${python} not runnable (${r.error.message})`;
  if (r.status !== 0)
    return `${python} cannot import ${modules.join(', ')}: ${r.stderr.trim().split('\n').pop() ?? ''}`;
  return null;
}

/**
 * A random torchvision state dict for `config`: normal conv weights scaled by
 * 1/sqrt(fan-in), BN gamma in [0.5, 1.5], beta and running mean ~ 0.1 N(0,1), running var in
 * [0.5, 1.5], num_batches_tracked 7.
 */
export function randomState(
  config: ResNetConfig,
  seed: number,
  dtype: 'F32' | 'F16' | 'BF16' = 'F32',
): StateDict {
  const rng = new Rng(seed);
  const out: StateDict = new Map();
  for (const k of torchvisionStateKeys(config)) {
    if (k.weight === null) {
      out.set(k.key, { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) });
      continue;
    }
    const n = k.shape.reduce((a, b) => a * b, 1);
    const fanIn =
      k.shape.length === 4
        ? (k.shape[1] as number) * (k.shape[2] as number) * (k.shape[3] as number)
        : 1;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      switch (k.weight) {
        case 'kernel':
          data[i] = rng.normal() / Math.sqrt(fanIn);
          break;
        case 'gamma':
        case 'moving_variance':
          data[i] = rng.uniform(0.5, 1.5);
          break;
        default:
          data[i] = 0.1 * rng.normal();
      }
    }
    out.set(k.key, { dtype, shape: k.shape.slice(), data });
  }
  return out;
}

/**
 * Sets every BatchNormalization layer of `model` to random gamma, beta, moving mean and
 * variance (as {@link randomState}), so that a wrong BN mapping shows in the outputs.
 */
export function randomiseBatchNorm(model: LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const c = layer.weights[0]!.shape[0] as number;
    const draw = (f: () => number): tf.Tensor => tf.tensor1d(Float32Array.from({ length: c }, f));
    const values = [
      draw(() => rng.uniform(0.5, 1.5)),
      draw(() => 0.1 * rng.normal()),
      draw(() => 0.1 * rng.normal()),
      draw(() => rng.uniform(0.5, 1.5)),
    ];
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/**
 * Runs `model` on a seeded random NHWC input of `[batch, size, size, 3]` and returns the
 * safetensors bytes of `{input, layer4, pooled}` in NCHW (the layout
 * tools/check_torchvision_export.py reads).
 */
export function ioFile(model: LayersModel, batch: number, size: number, seed: number): Uint8Array {
  const [input, layer4, pooled] = tf.tidy(() => {
    const x = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', seed);
    const [map, pool] = model.predict(x) as tf.Tensor[];
    return [tf.transpose(x, [0, 3, 1, 2]), tf.transpose(map!, [0, 3, 1, 2]), pool!];
  });
  const entry = (t: tf.Tensor) => ({
    dtype: 'F32' as const,
    shape: t.shape.slice(),
    data: t.dataSync() as Float32Array,
  });
  const bytes = writeSafetensors({
    input: entry(input!),
    layer4: entry(layer4!),
    pooled: entry(pooled!),
  });
  tf.dispose([input!, layer4!, pooled!]);
  return bytes;
}
