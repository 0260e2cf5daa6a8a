/**
 * Whether memory stays flat over a long run on the native engine: `--steps` E-DIY
 * training steps (the step of `packages/trainer/bench/setup.ts`: forward, backward, LARS
 * and the target's EMA) at a small scale (default: the `smoke` preset's ResNet-18 at
 * 1/16 width, 16 px, batch 8), printing every `--every` steps the process's resident set,
 * tfjs's live tensors and bytes and the wasm heap's size. A leak grows the tensor count
 * or bytes; a leak outside tfjs (the addon's caches, scratch buffers) grows the resident
 * set past its first plateau; the wasm heap never shrinks, so it shows the peak.
 *
 * Usage (from packages/backend-native):
 *   npx tsx --tsconfig tsconfig.check.json bench/memory.ts [--steps 1000] [--every 100] [--batch 8] [--width 4] [--size 16]
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend, Rng } from '@ediy/backend';
import { dataParallelStep } from '@ediy/trainer/internal';
import { benchSetup } from '../../trainer/bench/setup.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '1000' },
    every: { type: 'string', default: '100' },
    batch: { type: 'string', default: '8' },
    width: { type: 'string', default: '4' },
    size: { type: 'string', default: '16' },
  },
});
const whole = (name: string, raw: string | undefined): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`--${name} must be a whole number >= 1, got ${JSON.stringify(raw)}`);
  }
  return n;
};
const steps = whole('steps', values.steps);
const every = whole('every', values.every);
const info = await initBackend({ prefer: 'native' });
const bench = benchSetup({
  batch: whole('batch', values.batch),
  width: whole('width', values.width),
  size: whole('size', values.size),
});
const heapBytes = (): number => {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  return b.wasm?.HEAPU8.byteLength ?? 0;
};
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

const rng = new Rng(0);
async function step(i: number): Promise<void> {
  const results = await dataParallelStep(
    bench.config,
    bench,
    bench.images,
    (k) => rng.fork(`s${i}-${k}`),
    bench.views,
    undefined,
    i,
  );
  bench.update(results[0]?.grads ?? {});
}

console.log(`## ${info.name}: ${steps} training steps, memory every ${every}\n`);
console.log('| step | RSS MB | tensors | tensor MB | wasm heap MB | s since start |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
const t0 = performance.now();
const row = (i: number): void => {
  const m = tf.memory();
  console.log(
    `| ${i} | ${mb(process.memoryUsage().rss)} | ${m.numTensors} | ${mb(m.numBytes)} | ${mb(heapBytes())} | ${((performance.now() - t0) / 1000).toFixed(0)} |`,
  );
};
row(0);
for (let i = 1; i <= steps; i++) {
  await step(i);
  if (i % every === 0 || i === steps) row(i);
}
bench.dispose();
