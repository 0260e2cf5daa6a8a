/**
 * Images/s of one E-DIY training step (ResNet-18 small-image stem, width 32, 32 px views,
 * batch 64: two views, frozen teacher, EMA target, online forward + backward, LARS, EMA)
 * on the chosen backend and number of gradient threads, beside the PyTorch peer of the
 * same step (tools/bench/torch_step.py, same thread count) run in a child process.
 * `bench/compare.ts` (the root `npm run bench`) runs it in every configuration.
 *
 * Usage: npx tsx --tsconfig tsconfig.check.json bench/step.ts [--backend auto] [--threads N]
 *          [--batch 64] [--width 32] [--size 32] [--steps 3] [--workers 1|2] [--no-torch] [--json]
 *        npm run bench -- --memory 1000 [--batch 16 --width 16]   (memory over many steps)
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { DeviceChecks, initBackend, Rng, type BackendPreference } from '@ediy/backend';
import { byolViews } from '@ediy/augment';
import { resolveWorkers, type MicroStepResult, type WorkersOption } from '@ediy/trainer';
import { ReplicaPool, dataParallelStep, type ReplicaResult } from '@ediy/trainer/internal';
import { benchSetup } from './setup.js';
import { runTorchStep } from './torch.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'auto' },
    threads: { type: 'string' },
    json: { type: 'boolean', default: false },
    batch: { type: 'string', default: '64' },
    width: { type: 'string', default: '32' },
    size: { type: 'string', default: '32' },
    steps: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1' },
    memory: { type: 'string' },
    'no-torch': { type: 'boolean', default: false },
  },
});
const shape = {
  batch: Number(values.batch),
  width: Number(values.width),
  size: Number(values.size),
};
const steps = Number(values.steps);
const threads = values.threads === undefined ? undefined : Number(values.threads);
// The replica worker's initBackend reads it too: --threads is per gradient thread.
if (threads !== undefined) process.env.EDIY_THREADS = String(threads);
const info = await initBackend({
  prefer: values.backend as BackendPreference,
  ...(threads === undefined ? {} : { threads }),
});
const bench = benchSetup(shape);
const workersOption = (
  values.workers === 'auto' ? 'auto' : Number(values.workers)
) as WorkersOption;
const workers = resolveWorkers(workersOption, bench.config);
const pool =
  workers === 2
    ? await ReplicaPool.start({ config: bench.config, views: bench.views, teacher: bench.teacher })
    : undefined;
const rng = new Rng(0);

let workerTensors: number | undefined;
let workerHeap: number | undefined;

async function step(i: number): Promise<void> {
  const results = await dataParallelStep(
    bench.config,
    bench,
    bench.images,
    (k) => rng.fork(`s${i}-${k}`),
    bench.views,
    pool,
    i,
  );
  const first = results[0] as MicroStepResult;
  const second = results[1];
  if (second) {
    workerTensors = (second as ReplicaResult).numTensors;
    workerHeap = (second as ReplicaResult).heapBytes;
  }
  const grads = second
    ? tf.tidy(() =>
        Object.fromEntries(
          Object.entries(first.grads).map(([k, g]) => [
            k,
            tf.div(tf.add(g, second.grads[k] as tf.Tensor), 2),
          ]),
        ),
      )
    : first.grads;
  if (second) tf.dispose([...Object.values(first.grads), ...Object.values(second.grads)]);
  bench.update(grads);
}

const label = `ediy ${info.name} (${info.engine ?? info.package}) width=${shape.width} batch=${shape.batch} size=${shape.size} workers=${workers}`;
try {
  await step(0); // warm-up: kernel compilation, allocation, the worker's first weights
  if (values.memory !== undefined) {
    const total = Number(values.memory);
    const every = Math.max(1, Math.round(total / 10));
    console.log(`${label}: memory over ${total} steps`);
    console.log(
      '| step | numTensors | worker numTensors | numBytes (MB) | wasm heap (MB) | worker wasm heap (MB) | RSS (MB) | JS heap (MB) | ms/step (last interval) |',
    );
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    let t = performance.now();
    for (let i = 1; i <= total; i++) {
      await step(i);
      if (i % every === 0 || i === 1) {
        const heap = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8
          .length;
        const m = tf.memory();
        const ms = (performance.now() - t) / (i === 1 ? 1 : every);
        console.log(
          `| ${i} | ${m.numTensors} | ${workerTensors ?? '-'} | ${(m.numBytes / 2 ** 20).toFixed(1)} | ${heap === undefined ? '-' : (heap / 2 ** 20).toFixed(0)} | ${workerHeap === undefined ? '-' : (workerHeap / 2 ** 20).toFixed(0)} | ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} | ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} | ${ms.toFixed(0)} |`,
        );
        t = performance.now();
      }
    }
  } else {
    const times: number[] = [];
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    for (let i = 1; i <= steps; i++) {
      const t = performance.now();
      await step(i);
      times.push(performance.now() - t);
    }
    const mean = times.reduce((a, b) => a + b, 0) / steps;
    const ours = shape.batch / (mean / 1000);
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const cores = (cpuSeconds * 1000) / (performance.now() - wall0);
    // The step above includes the two BYOL views' augmentation; the PyTorch peer starts
    // from ready views (torchvision augments in data-loader workers). Its CPU time alone,
    // over as many calls, lets compare.ts set the same work side by side.
    const aug0 = process.cpuUsage();
    for (let i = 1; i <= steps; i++) {
      // on webgpu the input check stays on the device (read by nothing: the images are valid)
      const checks = DeviceChecks.open();
      try {
        tf.tidy(() => {
          byolViews(bench.images, rng.fork(`augment-only-${i}`), bench.views);
        });
      } finally {
        checks.close();
      }
    }
    const aug = process.cpuUsage(aug0);
    const augmentCpuSeconds = (aug.user + aug.system) / 1e6 / steps;
    if (values.json) {
      console.log(
        JSON.stringify({
          backend: info.name,
          engine: info.engine ?? info.package,
          threads: info.threads ?? 1,
          workers,
          msPerStep: mean,
          imagesPerSecond: ours,
          cpuSecondsPerStep: cpuSeconds / steps,
          augmentCpuSecondsPerStep: augmentCpuSeconds,
          stepsMs: times,
        }),
      );
    } else {
      const spread = `per step ${times.map((x) => x.toFixed(0)).join(', ')} ms; ${(cpuSeconds / steps).toFixed(2)} CPU-s/step, of which augmentation ${augmentCpuSeconds.toFixed(2)}; ${cores.toFixed(2)} cores busy`;
      console.log(
        `${label} ediy=true: ${mean.toFixed(1)} ms/step, ${ours.toFixed(1)} images/s (${spread})`,
      );
      if (!values['no-torch']) torchPeer(ours, info.threads ?? workers);
    }
  }
} finally {
  await pool?.terminate();
  bench.dispose();
}

function torchPeer(ours: number, torchThreads: number): void {
  const out = runTorchStep({ ...shape, steps, threads: torchThreads });
  if (typeof out === 'string') {
    console.log(out);
    return;
  }
  console.log(
    `torch ${out.torch} threads=${out.threads}: ${out.msPerStep.toFixed(0)} ms/step, ${out.imagesPerSecond.toFixed(1)} images/s, ${out.cpuSecondsPerStep.toFixed(2)} CPU-s/step`,
  );
  console.log(`ratio ediy/torch (images/s): ${(ours / out.imagesPerSecond).toFixed(3)}`);
}
