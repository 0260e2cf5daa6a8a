/**
 * Where the wall time of one E-DIY training step goes, kernel by kernel, on the native
 * engine: every kernel registered for the `wasm` backend is wrapped in a timer (wall and
 * process CPU time), the step of `packages/trainer/bench/setup.ts` runs `--steps` times
 * after a warm-up, and the tables give, per kernel name and per kernel and input shapes,
 * the calls, wall ms and CPU ms per step. The step's wall time outside every kernel is
 * tfjs's and the trainer's own JavaScript (op dispatch, the tape, tidy, the losses' code).
 * `tf.profile` is not used: its bookkeeping per kernel slows the step it measures; under
 * `node --cpu-prof` a native kernel call is one sample however long it runs (the addon
 * blocks signals for each call), so that profile does not time the kernels either.
 *
 * Each call is also counted by where it comes from: the optimiser (LARS), the EMA, or the
 * gradients' computation; with `--sources` the latter by the first frame of the project's
 * code on its stack (forward or backward pass; a stack per call, so the times of that run
 * are not the step's).
 *
 * `--json <file>` also writes the per-kernel tallies (per step, each kernel marked `native` or
 * `wasm`) for `bench/thread-scaling.ts`, which sets two such files (one and two threads) side
 * by side.
 *
 * `--composed-updates` unregisters the fused update kernels (`UPDATE_KERNELS`), so LARS and
 * the EMA run as their composition of tfjs ops, to compare the two in consecutive runs.
 *
 * Usage (from packages/backend-native):
 *   EDIY_THREADS=2 npx tsx --tsconfig tsconfig.check.json bench/kernel-profile.ts [--steps 3] [--top 30] [--batch 64] [--width 32] [--size 32] [--sources] [--composed-updates] [--json out.json]
 */
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend, Rng } from '@ediy/backend';
import { UPDATE_KERNELS, nativeKernelStats, resetNativeKernelStats } from '@ediy/backend-native';
import { dataParallelStep } from '@ediy/trainer/internal';
import { benchSetup } from '../../trainer/bench/setup.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '3' },
    top: { type: 'string', default: '30' },
    batch: { type: 'string', default: '64' },
    width: { type: 'string', default: '32' },
    size: { type: 'string', default: '32' },
    sources: { type: 'boolean', default: false },
    'composed-updates': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const sources = values.sources;
if (sources) Error.stackTraceLimit = 200;
const steps = Number(values.steps);
const top = Number(values.top);
const info = await initBackend({ prefer: 'native' });
if (values['composed-updates']) {
  for (const name of Object.values(UPDATE_KERNELS)) tf.unregisterKernel(name, 'wasm');
}
const bench = benchSetup({
  batch: Number(values.batch),
  width: Number(values.width),
  size: Number(values.size),
});

interface Tally {
  calls: number;
  wall: number;
  cpu: number;
}
const byName = new Map<string, Tally>();
/** The kernel names whose registered kernel is one of the native engine's. */
const nativeNames = new Set<string>();
const byShape = new Map<string, Tally>();
const bySource = new Map<string, Tally>();
const bySourceKernel = new Map<string, Tally>();
/** The part of the step running now: set around the gradients, the optimiser and the EMA. */
let phase = 'gradients';
let recording = false;
let depth = 0;
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const add = (m: Map<string, Tally>, key: string, wall: number, cpu: number): void => {
  const t = m.get(key) ?? { calls: 0, wall: 0, cpu: 0 };
  t.calls += 1;
  t.wall += wall;
  t.cpu += cpu;
  m.set(key, t);
};

for (const config of tf.getKernelsForBackend('wasm')) {
  const inner = config.kernelFunc;
  if ((config as { ediyNative?: boolean }).ediyNative === true) nativeNames.add(config.kernelName);
  tf.unregisterKernel(config.kernelName, 'wasm');
  tf.registerKernel({
    ...config,
    kernelFunc: (args) => {
      if (!recording || depth > 0) return inner(args);
      depth++;
      const stack = sources && phase === 'gradients' ? new Error().stack : undefined;
      const w0 = performance.now();
      const c0 = cpuNow();
      try {
        return inner(args);
      } finally {
        const wall = performance.now() - w0;
        const cpu = cpuNow() - c0;
        depth--;
        const name = config.kernelName;
        add(byName, name, wall, cpu);
        const shapes = Object.values(args.inputs)
          .map((t) => `[${(t?.shape ?? []).join(',')}]`)
          .join(' ');
        add(byShape, `${name} ${shapes}`, wall, cpu);
        const source = phase === 'gradients' && stack !== undefined ? where(stack) : phase;
        add(bySource, source, wall, cpu);
        add(bySourceKernel, `${source} | ${name}`, wall, cpu);
      }
    },
  });
}

const OWN = /packages\/([\w-]+)\/src\/([\w./-]+?)\.[jt]s/;

/**
 * Where a kernel call of the gradients' computation comes from: `forward` or `backward`
 * (inside tfjs's backpropagation), then the innermost frame of the project's own code
 * (`via tfjs-layers` when a layer's call is between them); a backward call with no
 * project frame inside the backpropagation is one of tfjs's own gradient functions.
 */
function where(stack: string): string {
  const frames = stack.split('\n').slice(1);
  const back = frames.findIndex((f) => f.includes('backpropagateGradients'));
  const inner = back < 0 ? frames : frames.slice(0, back);
  let layers = false;
  for (const f of inner) {
    if (f.includes('bench/kernel-profile')) continue;
    if (f.includes('tfjs-layers')) layers = true;
    const m = OWN.exec(f);
    if (m)
      return `${back < 0 ? 'forward' : 'backward'}: ${m[1]}/${m[2]}${layers ? ' via tfjs-layers' : ''}`;
  }
  return back < 0 ? 'forward: no project frame' : "backward: tfjs's gradient functions";
}

const applyGradients = bench.optimizer.applyGradients.bind(bench.optimizer);
bench.optimizer.applyGradients = (grads) => {
  phase = 'optimizer (LARS)';
  applyGradients(grads);
  phase = 'EMA';
};

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
  phase = 'gradients';
}

await step(0); // warm-up: primitives created, weights laid out
recording = true;
resetNativeKernelStats();
const w0 = performance.now();
const c0 = cpuNow();
for (let i = 1; i <= steps; i++) await step(i);
const wall = (performance.now() - w0) / steps;
const cpu = (cpuNow() - c0) / steps;
recording = false;

const sum = (m: Map<string, Tally>, f: (k: string) => boolean): Tally =>
  [...m.entries()]
    .filter(([k]) => f(k))
    .reduce(
      (a, [, t]) => ({ calls: a.calls + t.calls, wall: a.wall + t.wall, cpu: a.cpu + t.cpu }),
      {
        calls: 0,
        wall: 0,
        cpu: 0,
      },
    );
const CONV = /^(FusedConv2D|Conv2D|Conv2DBackpropInput|Conv2DBackpropFilter)$/;
const all = sum(byName, () => true);
const conv = sum(byName, (k) => CONV.test(k));
const f0 = (x: number) => (x / steps).toFixed(0);
const f1 = (x: number) => (x / steps).toFixed(1);

console.log(
  `## ${info.name}${values['composed-updates'] ? ', LARS and EMA composed of tfjs ops' : ''}: one step ${wall.toFixed(0)} ms wall, ${cpu.toFixed(0)} CPU-ms (${(cpu / wall).toFixed(2)} cores busy), mean of ${steps} after a warm-up; load average ${(loadavg()[0] ?? 0).toFixed(1)}\n`,
);
console.log('| part of the step | calls | wall ms | CPU ms | share of wall |');
console.log('| --- | ---: | ---: | ---: | ---: |');
const part = (label: string, t: Tally): void =>
  console.log(
    `| ${label} | ${f0(t.calls)} | ${f0(t.wall)} | ${f0(t.cpu)} | ${((100 * t.wall) / steps / wall).toFixed(1)}% |`,
  );
part('convolutions (forward, input and filter gradients)', conv);
part('every other kernel', {
  calls: all.calls - conv.calls,
  wall: all.wall - conv.wall,
  cpu: all.cpu - conv.cpu,
});
part('outside kernels (tfjs and trainer JavaScript)', {
  calls: 0,
  wall: wall * steps - all.wall,
  cpu: cpu * steps - all.cpu,
});

const table = (title: string, m: Map<string, Tally>): void => {
  console.log(`\n### ${title}\n`);
  console.log('| kernel | calls | wall ms | CPU ms | µs/call |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [k, t] of [...m.entries()].sort((a, b) => b[1].wall - a[1].wall).slice(0, top)) {
    console.log(
      `| ${k} | ${f0(t.calls)} | ${f1(t.wall)} | ${f1(t.cpu)} | ${((1000 * t.wall) / t.calls).toFixed(0)} |`,
    );
  }
};
console.log(
  `\nJavaScript outside kernels per kernel call: ${((1000 * (wall * steps - all.wall)) / all.calls).toFixed(0)} µs wall, ${((1000 * (cpu * steps - all.cpu)) / all.calls).toFixed(0)} µs CPU`,
);
table('per source (the optimiser, the EMA, the gradients), per step', bySource);
table('per source and kernel, per step', bySourceKernel);
table('per kernel, per step', byName);
const nonConv = new Map([...byShape.entries()].filter(([k]) => !CONV.test(k.split(' ')[0] ?? '')));
table('per kernel and input shapes, convolutions left out, per step', nonConv);
const convs = new Map([...byShape.entries()].filter(([k]) => CONV.test(k.split(' ')[0] ?? '')));
table('convolutions per kernel and input shapes, per step', convs);
const engineOf = (name: string): string => (nativeNames.has(name) ? 'native' : 'wasm');
const byEngine = new Map<string, Tally>();
for (const [name, t] of byName) {
  const key = CONV.test(name) ? 'native convolutions' : `${engineOf(name)} kernels`;
  const e = byEngine.get(key) ?? { calls: 0, wall: 0, cpu: 0 };
  byEngine.set(key, { calls: e.calls + t.calls, wall: e.wall + t.wall, cpu: e.cpu + t.cpu });
}
table('per engine (convolutions, other native kernels, wasm kernels), per step', byEngine);
const wasmOnly = new Map([...byName.entries()].filter(([k]) => !nativeNames.has(k)));
table('kernels on wasm (one thread), per step', wasmOnly);
if (values.json !== undefined) {
  const perStep = (t: Tally) => ({
    calls: t.calls / steps,
    wall: t.wall / steps,
    cpu: t.cpu / steps,
  });
  writeFileSync(
    values.json,
    JSON.stringify(
      {
        engine: info.name,
        threads: info.threads ?? 1,
        loadAverage: loadavg()[0] ?? 0,
        steps,
        wall,
        cpu,
        outside: { calls: 0, wall: wall - all.wall / steps, cpu: cpu - all.cpu / steps },
        kernels: Object.fromEntries(
          [...byName.entries()].map(([k, t]) => [k, { ...perStep(t), engine: engineOf(k) }]),
        ),
      },
      null,
      1,
    ),
  );
}
const { fallback } = nativeKernelStats();
console.log('\n### calls the native kernels passed to wasm, per step\n');
console.log('| kernel: reason | calls |');
console.log('| --- | ---: |');
for (const [k, n] of Object.entries(fallback).sort((a, b) => b[1] - a[1]))
  console.log(`| ${k} | ${f0(n)} |`);
bench.dispose();
