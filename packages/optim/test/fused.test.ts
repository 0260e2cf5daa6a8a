/**
 * The fused update kernels (one call for every variable's LARS step, one for every
 * pair's EMA update, registered by the native engine) against this package's tfjs-op
 * composition, which runs where they are missing: the same float32 bits, on a grid of
 * shapes around the native Sum's block threshold, with and without clipping, with one and
 * two threads; and the composition on cpu and plain wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, nativeEngineStatus } from '@ediy/backend';
import { FUSED_UPDATE_KERNELS, LARS, emaUpdate, type LarsOptions } from '@ediy/optim';

const native = await nativeEngineStatus();
if (!native.available) console.warn(`fused-kernel cases skipped: ${native.reason ?? ''}`);

/** Variables of many sizes: below, at and above 32768 values, rank 1 (excluded) to 4. */
const SHAPES: Array<[string, number[]]> = [
  ['stem/kernel', [3, 3, 3, 8]],
  ['stem_bn/gamma', [8]],
  ['stem_bn/beta', [8]],
  ['one/kernel', [1, 1]],
  ['odd/kernel', [7, 43]],
  ['block/kernel', [3, 3, 32, 32]],
  ['below/kernel', [32767, 1]],
  ['at/kernel', [128, 256]],
  ['above/kernel', [3, 3, 64, 65]],
  ['dense/kernel', [256, 1024]],
  ['dense/bias', [1024]],
  ['zero/kernel', [5, 6]], // ||w|| = 0: r = 1
  ['still/kernel', [4, 4]], // g = 0 and wd = 0 in one case: ||u|| = 0, r = 1
  ['tie/kernel', [128, 256]], // ||w||^2 on a float32 tie: the order of the sum decides (below)
];

/**
 * A weight whose sum of squares in double is 2.25 + 2^-23 (a tie between the float32
 * values 2.25 and 2.25 + 2^-22, which rounds to 2.25) in its first 512 values, plus 32256
 * values of 2^-60 that a sum in order loses one by one but the native Sum's 64 blocks of
 * 512 (from 32768 values on) keep, tipping it up: so ||w|| is 1.5 or 1.5 + 2^-23
 * depending on how the sum is cut.
 */
function tie(shape: number[]): tf.Tensor {
  const w = new Float32Array(tf.util.sizeFromShape(shape));
  w[0] = 1.5;
  w[1] = 2 ** -12;
  w[2] = 2 ** -12;
  w.fill(2 ** -30, 512);
  return tf.tensor(w, shape);
}

/** A seeded stream of N(0, scale^2) values (Box-Muller over a 32-bit LCG). */
function normal(seed: number, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  for (let i = 0; i < n; i++) {
    out[i] = scale * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  }
  return out;
}

function values(key: string, seed: number, shape: number[], scale: number): tf.Tensor {
  const n = tf.util.sizeFromShape(shape);
  if (key.startsWith('zero') && scale > 0.01) return tf.zeros(shape);
  if (key.startsWith('still') && scale <= 0.01) return tf.zeros(shape);
  if (key.startsWith('tie') && scale > 0.01) return tie(shape);
  return tf.tensor(normal(seed, n, scale), shape);
}

/** The bits of a float32 tensor. */
function bits(t: tf.Tensor): Uint32Array {
  return new Uint32Array((t.dataSync() as Float32Array).slice().buffer);
}

function expectSameBits(got: tf.Tensor, want: tf.Tensor, what: string): void {
  const a = bits(got);
  const b = bits(want);
  expect(a.length, `${what}: length`).toBe(b.length);
  const i = a.findIndex((x, k) => x !== b[k]);
  if (i >= 0) {
    const f = (u: Uint32Array) => new Float32Array(u.buffer)[i];
    expect.fail(`${what}: value ${i} is ${f(a)} fused, ${f(b)} composed (of ${a.length})`);
  }
}

/** Runs `fn` with kernel `name` unregistered on the current backend, so the composition runs. */
function composed<T>(name: string, fn: () => T): T {
  const config = tf.getKernel(name, tf.getBackend());
  if (config === undefined) return fn();
  tf.unregisterKernel(name, tf.getBackend());
  try {
    return fn();
  } finally {
    tf.registerKernel(config);
  }
}

/** The kernels one call runs (names, in order), disposing what it returns. */
async function kernelsOf(fn: () => void): Promise<string[]> {
  const info = await tf.profile(fn);
  return info.kernels.map((k) => k.name);
}

let run = 0;

/**
 * Three LARS steps (lr 0, then two rates) of the same variables and gradients, once with
 * the fused kernel where the backend has it and once composed; every weight and momentum
 * buffer must have the same bits.
 */
async function larsCase(options: Omit<LarsOptions, 'learningRate'>, fused: boolean) {
  run += 1;
  const sets = ['f', 'c'].map((tag) =>
    SHAPES.map(([name, shape], i) =>
      tf.variable(values(name, 100 + i, shape, 0.1), true, `fused${run}${tag}/${name}`),
    ),
  );
  const [mine, theirs] = sets as [tf.Variable[], tf.Variable[]];
  const opts = [
    new LARS({ ...options, learningRate: 0 }),
    new LARS({ ...options, learningRate: 0 }),
  ];
  const [a, b] = opts as [LARS, LARS];
  const kernels: string[][] = [];
  for (const [step, lr] of [0, 0.05, 0.3].entries()) {
    const grads = SHAPES.map(([name, shape], i) => values(name, 1000 * step + i, shape, 0.001));
    a.setLearningRate(lr);
    b.setLearningRate(lr);
    const before = tf.memory().numTensors;
    kernels.push(
      await kernelsOf(() =>
        a.applyGradients(Object.fromEntries(mine.map((v, i) => [v.name, grads[i] as tf.Tensor]))),
      ),
    );
    // buffers are made on the first step; after that a step leaves no tensor behind
    if (step > 0) expect(tf.memory().numTensors, 'tensors after a fused step').toBe(before);
    composed(FUSED_UPDATE_KERNELS.lars, () =>
      b.applyGradients(Object.fromEntries(theirs.map((v, i) => [v.name, grads[i] as tf.Tensor]))),
    );
    tf.dispose(grads);
  }
  const stateA = await a.getWeights();
  const stateB = await b.getWeights();
  mine.forEach((v, i) => expectSameBits(v, theirs[i] as tf.Variable, `weight ${v.name}`));
  stateA.slice(1).forEach((s, i) => {
    expectSameBits(s.tensor, (stateB[i + 1] as (typeof stateB)[number]).tensor, s.name);
  });
  const fusedCalls = kernels.flat().filter((k) => k === FUSED_UPDATE_KERNELS.lars).length;
  // the first step also makes the momentum buffers (ZerosLike); then one call a step
  if (fused)
    expect(kernels.slice(1)).toEqual([[FUSED_UPDATE_KERNELS.lars], [FUSED_UPDATE_KERNELS.lars]]);
  else expect(fusedCalls).toBe(0);
  tf.dispose([...stateA, ...stateB].map((s) => s.tensor));
  tf.dispose([...mine, ...theirs]);
  a.dispose();
  b.dispose();
}

/** EMA updates at several tau, fused and composed, the same bits. */
async function emaCase(fused: boolean) {
  run += 1;
  const online = SHAPES.map(([name, shape], i) =>
    tf.variable(values(name, 7 + i, shape, 0.1), false, `ema${run}o/${name}`),
  );
  const sets = ['f', 'c'].map((tag) =>
    SHAPES.map(([name, shape], i) =>
      tf.variable(values(name, 70 + i, shape, 0.1), false, `ema${run}${tag}/${name}`),
    ),
  );
  const [mine, theirs] = sets as [tf.Variable[], tf.Variable[]];
  for (const tau of [0.996, 0.7, 0, 1, 0.99999]) {
    const before = tf.memory().numTensors;
    const kernels = await kernelsOf(() => emaUpdate(mine, online, tau));
    expect(tf.memory().numTensors, 'tensors after an EMA update').toBe(before);
    expect(kernels).toEqual(
      fused ? [FUSED_UPDATE_KERNELS.ema] : expect.not.arrayContaining([FUSED_UPDATE_KERNELS.ema]),
    );
    composed(FUSED_UPDATE_KERNELS.ema, () => emaUpdate(theirs, online, tau));
    mine.forEach((v, i) =>
      expectSameBits(v, theirs[i] as tf.Variable, `target ${v.name} at tau ${tau}`),
    );
  }
  tf.dispose([...mine, ...theirs, ...online]);
}

const CASES: Array<[string, Omit<LarsOptions, 'learningRate'>]> = [
  ["BYOL's LARS", {}],
  ['clipped, eta 0.02', { clip: true, eta: 0.02 }],
  ['no weight decay (a zero update norm)', { weightDecay: 0, momentum: 0.5 }],
  ['every parameter adapted', { exclude: () => false, eta: 0.3, weightDecay: 1e-4 }],
];

describe.skipIf(!native.available)('fused updates on the native engine', () => {
  for (const threads of [1, 2]) {
    describe(`${threads} thread(s)`, () => {
      it('registers both kernels', async () => {
        await initBackend({ prefer: 'native', threads });
        for (const name of Object.values(FUSED_UPDATE_KERNELS)) {
          expect(tf.getKernel(name, 'wasm'), name).toBeDefined();
        }
      });
      for (const [what, options] of CASES) {
        it(`LARS, ${what}: one call a step, the composition's bits`, async () => {
          await larsCase(options, true);
        });
      }
      it("the EMA: one call, the composition's bits", async () => {
        await emaCase(true);
      });
    });
  }
});

describe('the composition where the kernels are missing', () => {
  afterAll(async () => {
    await initBackend({ prefer: 'cpu' });
  });
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`runs on ${backend}: LARS (clipped and not) and the EMA`, async () => {
      await initBackend({ prefer: backend });
      for (const name of Object.values(FUSED_UPDATE_KERNELS)) {
        expect(tf.getKernel(name, backend), name).toBeUndefined();
      }
      await larsCase({}, false);
      await larsCase({ clip: true, eta: 0.02 }, false);
      await emaCase(false);
    });
  }
});
