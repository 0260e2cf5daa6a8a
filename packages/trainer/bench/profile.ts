/**
 * Profile of one E-DIY training step (the step of bench/step.ts) on one thread: wall time
 * per phase over several steps (mean, min, max), then one step under tf.profile with the
 * time per kernel. Prints Markdown tables.
 *
 * With --workers 2 the phases are those of the training thread, which computes half of
 * each batch while a worker thread computes the other half (`sync`: waiting for it and
 * copying); the kernel table is then the training thread's.
 *
 * Usage: npx tsx --tsconfig tsconfig.check.json bench/profile.ts [--backend wasm] [--batch 64] [--width 32] [--size 32] [--steps 3] [--top 25] [--workers 1|2]
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend, Rng, type BackendPreference } from '@ediy/backend';
import {
  resolveWorkers,
  type PhaseTimings,
  type StepPhase,
  type WorkersOption,
} from '@ediy/trainer';
import { ReplicaPool, addTiming, dataParallelStep } from '@ediy/trainer/internal';
import { benchSetup } from './setup.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    batch: { type: 'string', default: '64' },
    width: { type: 'string', default: '32' },
    size: { type: 'string', default: '32' },
    steps: { type: 'string', default: '3' },
    top: { type: 'string', default: '25' },
    workers: { type: 'string', default: '1' },
  },
});
const shape = {
  batch: Number(values.batch),
  width: Number(values.width),
  size: Number(values.size),
};
const steps = Number(values.steps);
const info = await initBackend({ prefer: values.backend as BackendPreference });
const bench = benchSetup(shape);
const rng = new Rng(0);
const workers = resolveWorkers(Number(values.workers) as WorkersOption, bench.config);
const pool =
  workers === 2
    ? await ReplicaPool.start({ config: bench.config, views: bench.views, teacher: bench.teacher })
    : undefined;

async function step(i: number): Promise<PhaseTimings> {
  const results = await dataParallelStep(
    bench.config,
    bench,
    bench.images,
    (k) => rng.fork(`s${i}-${k}`),
    bench.views,
    pool,
    i,
  );
  const timings = results[0]?.timings ?? {};
  let t = performance.now();
  const all = results.map((r) => r.grads);
  const grads =
    all.length === 1
      ? (all[0] as tf.NamedTensorMap)
      : tf.tidy(() =>
          Object.fromEntries(
            Object.keys(all[0] ?? {}).map((k) => [
              k,
              tf.div(tf.addN(all.map((g) => g[k] as tf.Tensor)), all.length),
            ]),
          ),
        );
  bench.optimizer.applyGradients(grads);
  tf.dispose([
    ...Object.values(grads),
    ...(all.length === 1 ? [] : all.flatMap((g) => Object.values(g))),
  ]);
  addTiming(timings, 'optimizer', performance.now() - t);
  t = performance.now();
  bench.update({}); // EMA only: no gradients left to apply
  addTiming(timings, 'ema', performance.now() - t);
  return timings;
}

await step(0); // warm-up
const runs: PhaseTimings[] = [];
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
for (let i = 1; i <= steps; i++) runs.push(await step(i));
const wall = performance.now() - wall0;
const cpu = process.cpuUsage(cpu0);
const phases: StepPhase[] = [
  'augment',
  'teacher',
  'target',
  'online-forward',
  'matchers',
  'online-backward',
  'readback',
  'sync',
  'optimizer',
  'ema',
];
const total = runs.map((r) => Object.values(r).reduce((a, b) => a + (b ?? 0), 0));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (x: number) => x.toFixed(0);

console.log(
  `## ${info.name}: ResNet-18 small stem, width ${shape.width}, ${shape.size} px, batch ${shape.batch}, ${workers} thread(s); ${steps} steps after a warm-up`,
);
console.log(
  `process CPU ${((cpu.user + cpu.system) / 1000 / wall).toFixed(2)} cores over ${(wall / 1000).toFixed(1)} s (${workers}.00 = no thread ever waited)\n`,
);
console.log('| phase | mean ms | min ms | max ms | share |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const p of phases) {
  const xs = runs.map((r) => r[p] ?? 0);
  console.log(
    `| ${p} | ${fmt(mean(xs))} | ${fmt(Math.min(...xs))} | ${fmt(Math.max(...xs))} | ${((100 * mean(xs)) / mean(total)).toFixed(1)}% |`,
  );
}
console.log(
  `| **step** | ${fmt(mean(total))} | ${fmt(Math.min(...total))} | ${fmt(Math.max(...total))} | ${(shape.batch / (mean(total) / 1000)).toFixed(1)} images/s |\n`,
);

const profile = await tf.profile(async () => {
  await step(steps + 1);
});
await pool?.terminate();
const byKernel = new Map<string, { count: number; ms: number }>();
let profiled = 0;
for (const k of profile.kernels) {
  const ms = Number(k.kernelTimeMs);
  profiled += ms;
  const e = byKernel.get(k.name) ?? { count: 0, ms: 0 };
  e.count += 1;
  e.ms += ms;
  byKernel.set(k.name, e);
}
const top = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(values.top));
console.log(
  `### kernels of one step under tf.profile (${profile.kernels.length} kernel calls, ${fmt(profiled)} ms in kernels)\n`,
);
console.log('| kernel | calls | ms | share |');
console.log('| --- | ---: | ---: | ---: |');
for (const [name, e] of top)
  console.log(`| ${name} | ${e.count} | ${fmt(e.ms)} | ${((100 * e.ms) / profiled).toFixed(1)}% |`);

// The convolutions by shape: where the time of the largest kernels goes.
const convs = new Map<string, { count: number; ms: number }>();
for (const k of profile.kernels) {
  if (!/Conv2D|FusedConv2D|BatchMatMul|_FusedMatMul/.test(k.name)) continue;
  const key = `${k.name} ${k.inputShapes.map((s) => `[${(s ?? []).join(',')}]`).join(' ')}`;
  const e = convs.get(key) ?? { count: 0, ms: 0 };
  e.count += 1;
  e.ms += Number(k.kernelTimeMs);
  convs.set(key, e);
}
console.log('\n### the ten slowest conv/matmul shapes\n');
console.log('| kernel and input shapes | calls | ms |');
console.log('| --- | ---: | ---: |');
for (const [key, e] of [...convs.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 10))
  console.log(`| ${key} | ${e.count} | ${fmt(e.ms)} |`);
bench.dispose();
