/**
 * The trainer's BatchNorm kept its arithmetic bit for bit: two `pretrain` steps of E-DIY
 * (teacher-guided R-DEM and R-IEM, BYOL, a teacher from a saved TF.js model folder as
 * `--teacher` gives one) against SHA-256 digests of every tensor of the last checkpoint
 * and the logged losses, recorded from the trainer as it was when its fast BatchNorm
 * replaced `layer.call` at run time. The fast BatchNorm is now a layer class the networks
 * are built with; any change to what it computes (or to the step) changes a digest.
 * The wasm digests are still those recorded then; the native ones were recorded again when
 * the native engine's element-wise and Sum/Mean kernels (which sum in double, as the cpu
 * backend does) changed the last bits of the native step's sums. oneDNN picks its
 * convolution kernels by the CPU's instruction set, and kernels of different sets sum in a
 * different order, and so do different thread counts, so the native digests are kept per
 * set and thread count (`native:avx2:2t`, `native:avx512_core_bf16:2t`: `initBackend`'s
 * `isa` and `threads`). oneDNN 2.6's float32 kernels are the same code across the sets of one
 * vector width (AVX-512 with or without VNNI, bf16, fp16 or AMX, which only its low-precision
 * kernels use; measured: the `avx512_core_amx` and `avx512_core_bf16` digests are equal), so a
 * set with no digests of its own is checked against a recorded set of its family at the same
 * thread count, and says so when they differ; a key with neither fails, saying how to record it.
 * `EDIY_WRITE_GOLDEN=1` rewrites the fixture's entry for the key in use (then run prettier on it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import { saveModelToDir } from '@ediy/backbones/node';
import { latestCheckpoint, loadCheckpoint, pretrain, type RowConfig } from '@ediy/trainer';
import { smoke, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

const BACKEND = await pipelineTestBackend();
const FIXTURE = new URL('./fixtures/batchnorm-golden.json', import.meta.url);

/** Per backend: the losses of each step and a digest of each checkpoint tensor. */
type Golden = Record<string, { losses: number[][]; tensors: Record<string, string> }>;

const ROW: RowConfig = {
  name: 'bn-golden',
  method: {
    byolWeight: 1,
    regionLosses: [
      { loss: 'r-dem', weight: 1, matcher: 'teacher' },
      { loss: 'r-iem', weight: 1, matcher: 'teacher' },
    ],
    localPredictor: true,
  },
};

/** The fixture's key: the backend, and for the native engine oneDNN's instruction set and threads. */
let KEY: string = BACKEND;

/** The float32 kernel family of a oneDNN instruction set: `avx512_core_amx` → `avx512`, `avx2_vnni` → `avx2`. */
function isaFamily(isa: string): string {
  if (isa.startsWith('avx512')) return 'avx512';
  if (isa.startsWith('avx2')) return 'avx2';
  return isa;
}

/**
 * The fixture entry for `key`: its own, else (for a native key) the first recorded entry of the
 * same instruction-set family and thread count, with the key it was recorded under.
 */
function goldenFor(
  golden: Golden,
  key: string,
): { key: string; entry: Golden[string] } | undefined {
  if (golden[key] !== undefined) return { key, entry: golden[key] };
  const m = /^native:(.+):(\d+t)$/.exec(key);
  if (m === null) return undefined;
  const [, isa, threads] = m;
  const stand = Object.keys(golden).find((k) => {
    const n = /^native:(.+):(\d+t)$/.exec(k);
    return n !== null && n[2] === threads && isaFamily(n[1]!) === isaFamily(isa!);
  });
  return stand === undefined ? undefined : { key: stand, entry: golden[stand]! };
}

beforeAll(async () => {
  const info = await initBackend({ prefer: BACKEND });
  if (BACKEND === 'native') {
    if (info.isa === undefined) throw new Error('initBackend reported no instruction set');
    KEY = `native:${info.isa}:${info.threads ?? 1}t`;
  }
});

function digest(t: tf.Tensor): string {
  const v = t.dataSync();
  return createHash('sha256')
    .update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
    .digest('hex')
    .slice(0, 32);
}

describe('the golden entry a key is checked against', () => {
  const e = (n: number): Golden[string] => ({ losses: [[n]], tensors: {} });
  const golden: Golden = { wasm: e(0), 'native:avx2:2t': e(1), 'native:avx512_core_bf16:2t': e(2) };
  it('is its own when recorded, else one of the same family and thread count', () => {
    expect(goldenFor(golden, 'native:avx512_core_bf16:2t')?.entry).toBe(
      golden['native:avx512_core_bf16:2t'],
    );
    expect(goldenFor(golden, 'native:avx512_core_amx:2t')?.key).toBe('native:avx512_core_bf16:2t');
    expect(goldenFor(golden, 'native:avx512_core:2t')?.key).toBe('native:avx512_core_bf16:2t');
    expect(goldenFor(golden, 'native:avx2_vnni:2t')?.key).toBe('native:avx2:2t');
    expect(goldenFor(golden, 'wasm')?.key).toBe('wasm');
  });
  it('is none for another thread count, another family, or another backend', () => {
    expect(goldenFor(golden, 'native:avx512_core_amx:1t')).toBeUndefined();
    expect(goldenFor(golden, 'native:sse41:2t')).toBeUndefined();
    expect(goldenFor({ 'native:avx2:2t': e(1) }, 'wasm')).toBeUndefined();
  });
});

describe('two training steps with the fast BatchNorm', () => {
  it('give the losses and every checkpoint tensor of the trainer before it became a layer class', async () => {
    const teacher = resnet({ depth: 18, stem: 'small', widthMultiplier: 1 / 32, seed: 9 });
    const modelDir = join(tempDir('bn-golden-teacher'), 'model');
    await saveModelToDir(teacher, modelDir);
    teacher.dispose();
    const base = smoke(ROW, 2);
    const config = {
      ...base,
      teacher: { modelDir },
      scale: {
        ...base.scale,
        backbone: { depth: 18 as const, stem: 'small' as const, widthMultiplier: 1 / 32 },
      },
    };
    const runDir = tempDir('bn-golden');
    const result = await pretrain(config, { runDir, progress: null });
    const losses = result.records.map((r) => [r.loss, ...Object.values(r.terms)]);
    const ckpt = loadCheckpoint(latestCheckpoint(join(runDir, 'checkpoints')) as string);
    const tensors: Record<string, string> = {};
    for (const [key, list] of Object.entries(ckpt.weights)) {
      const names = ckpt.state.weights[key] as string[];
      list.forEach((t, i) => (tensors[`${key}/${names[i]}`] = digest(t)));
    }
    for (const o of ckpt.optimizer) tensors[`optimizer/${o.name}`] = digest(o.tensor);
    tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);

    const golden = (existsSync(FIXTURE) ? JSON.parse(readFileSync(FIXTURE, 'utf8')) : {}) as Golden;
    if (process.env.EDIY_WRITE_GOLDEN === '1') {
      golden[KEY] = { losses, tensors };
      writeFileSync(FIXTURE, `${JSON.stringify(golden, null, 2)}\n`);
    }
    const found = goldenFor(golden, KEY);
    expect(
      found,
      `no golden for ${KEY}: record it on such a CPU with EDIY_WRITE_GOLDEN=1 after checking the step`,
    ).toBeDefined();
    const expected = found!.entry;
    const via =
      found!.key === KEY
        ? ''
        : ` (no digests recorded for ${KEY}; compared with ${found!.key}, its instruction-set family: if the step is right, record ${KEY} with EDIY_WRITE_GOLDEN=1)`;
    expect(losses, `losses${via}`).toEqual(expected.losses);
    expect(Object.keys(tensors)).toEqual(Object.keys(expected.tensors));
    for (const [name, d] of Object.entries(tensors))
      expect(d, `${name}${via}`).toBe(expected.tensors[name]);
  });
});
