/**
 * Throughput of the streaming image-folder loader: images per second of decode +
 * random-resized crop + resize to 224 px in sharp worker threads, on JPEGs of an
 * ImageNet-like size (about 500x375) written to a temporary folder first: made from the
 * photos of Debian's python3-skimage when installed, else synthetic. Then the same with
 * a synchronous training step on the main thread, to show how much decoding overlaps it,
 * and the pure-JS in-memory loader (jpeg-js) on the same files for comparison, and beside
 * it what a training step consumes (the trainer's step benchmark, see {@link trainingStep}).
 * Each line gives wall and CPU seconds (all threads of the process).
 *
 * Run: npm run bench (in packages/data). Figures depend on the load of the machine.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Rng } from '@ediy/backend';
import { loadImageFolder, scanImageFolder, StreamingImageLoader } from '@ediy/data';
import { tempDir } from '../test/fixtures.js';
import { rawImage } from '../test/images.js';

const COUNT = Number(process.env.BENCH_IMAGES ?? 320);
const STEP_ARGS = (process.env.BENCH_STEP ?? '--steps 2').split(' ').filter(Boolean);

/**
 * The images/s and images per CPU-second of one training step, from the trainer's step
 * benchmark (packages/trainer/bench/step.ts --json; its defaults: E-DIY, ResNet-18 of
 * width 32 at 32 px, batch 64) run in a child process; `BENCH_STEP=off` skips it,
 * `BENCH_STEP='--steps 3 --width 64 --size 64'` passes other arguments.
 */
function trainingStep(decodePerCpuSecond: number): string {
  if (process.env.BENCH_STEP === 'off') return 'skipped (BENCH_STEP=off)';
  const trainer = fileURLToPath(new URL('../../trainer/', import.meta.url));
  const r = spawnSync(
    'npx',
    [
      'tsx',
      '--tsconfig',
      'tsconfig.check.json',
      'bench/step.ts',
      '--json',
      '--no-torch',
      ...STEP_ARGS,
    ],
    { cwd: trainer, encoding: 'utf8' },
  );
  const line = r.stdout?.trim().split('\n').pop() ?? '';
  try {
    const step = JSON.parse(line) as {
      engine: string;
      msPerStep: number;
      imagesPerSecond: number;
      cpuSecondsPerStep: number;
    };
    const batch = (step.imagesPerSecond * step.msPerStep) / 1000;
    const perCpu = batch / step.cpuSecondsPerStep;
    return (
      `the trainer's step bench (${STEP_ARGS.join(' ')}; ${step.engine}): ${step.imagesPerSecond.toFixed(1)} images/s, ` +
      `${(step.msPerStep / 1000).toFixed(1)} s wall and ${step.cpuSecondsPerStep.toFixed(1)} CPU-s a step of ${Math.round(batch)} ` +
      `(${perCpu.toFixed(1)} images per CPU-second): decoding costs ${((perCpu / decodePerCpuSecond) * 100).toFixed(1)}% of the CPU the step does per image`
    );
  } catch {
    return `the trainer's step bench did not run (exit ${String(r.status)}): ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}`;
  }
}
const SIZE = 224;
const BATCH = 32;
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';

const { dir, cleanup } = tempDir('ediy-stream-bench-');
try {
  const rng = new Rng(0);
  const photos = existsSync(SKIMAGE)
    ? readdirSync(SKIMAGE)
        .filter((f) => /\.(png|jpe?g)$/i.test(f))
        .map((f) => join(SKIMAGE, f))
    : [];
  const sources: string[] = [];
  for (const p of photos) {
    const m = await sharp(p)
      .metadata()
      .catch(() => undefined);
    if (m && (m.width ?? 0) >= 256 && (m.height ?? 0) >= 256) sources.push(p);
  }
  const origin = sources.length > 0 ? `${sources.length} skimage photos` : 'synthetic noise';
  const t0 = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const w = 400 + rng.int(200);
    const h = 300 + rng.int(150);
    const out = join(dir, 'folder', `class${i % 4}`, `${String(i).padStart(4, '0')}.jpg`);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(out, '..'), { recursive: true });
    const img =
      sources.length > 0
        ? sharp(sources[i % sources.length] as string).resize(w, h, {
            fit: 'cover',
            position: rng.int(9),
          })
        : sharp(
            rawImage(w, h, (x, y) => [(x * 3 + i) % 256, (y * 5) % 256, (x ^ y) % 256]),
            {
              raw: { width: w, height: h, channels: 3 },
            },
          );
    await img.removeAlpha().toColourspace('srgb').jpeg({ quality: 90 }).toFile(out);
  }
  const root = join(dir, 'folder');
  console.log(
    `${COUNT} JPEGs of 400-600 x 300-450 px from ${origin}, written in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${availableParallelism()} cores\n`,
  );

  const cache = join(dir, 'scan-cache.json');
  const t1 = performance.now();
  const scan = await scanImageFolder(root, { cache });
  const scanMs = performance.now() - t1;
  const t1b = performance.now();
  await scanImageFolder(root, { cache });
  const cachedMs = performance.now() - t1b;
  console.log(
    `scan: ${Math.round((COUNT / scanMs) * 1000)} images/s reading headers, ${Math.round((COUNT / cachedMs) * 1000)} images/s again from its cache`,
  );

  /** Images per second over `epochs` epochs after one warm-up batch; `stepMs` of busy main thread per batch. */
  const run = async (workers: number, stepMs: number, epochs = 1) => {
    const loader = new StreamingImageLoader(scan, {
      size: SIZE,
      batchSize: BATCH,
      seed: 0,
      workers,
      prefetch: 2,
      flip: true,
    });
    try {
      await loader.nextArrays(); // threads started, first batch
      const steps = loader.stepsPerEpoch * epochs - 1;
      let waiting = 0;
      const cpu0 = process.cpuUsage();
      const t = performance.now();
      for (let s = 0; s < steps; s++) {
        const w = performance.now();
        await loader.nextArrays();
        waiting += performance.now() - w;
        const end = performance.now() + stepMs;
        while (performance.now() < end) {
          // a synchronous training step
        }
      }
      const ms = performance.now() - t;
      const cpu = process.cpuUsage(cpu0);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      return {
        rate: (steps * BATCH * 1000) / ms,
        waitPerStep: waiting / steps,
        maxHeld: loader.stats().maxHeld,
        cores: (cpuSeconds * 1000) / ms,
        wall: ms / 1000,
        cpuSeconds,
        perCpuSecond: (steps * BATCH) / cpuSeconds,
      };
    } finally {
      await loader.close();
    }
  };

  console.log(
    `\nstreaming loader, decode + random-resized crop + flip -> ${SIZE}x${SIZE}x3 float32, batch ${BATCH}, prefetch 2:`,
  );
  for (const workers of [1, 2]) {
    const r = await run(workers, 0);
    console.log(
      `  ${workers} thread${workers > 1 ? 's' : ' '}: ${r.rate.toFixed(1)} images/s; ${r.wall.toFixed(1)} s wall, ${r.cpuSeconds.toFixed(1)} CPU-s (${r.perCpuSecond.toFixed(0)} images per CPU-second, ${r.cores.toFixed(2)} cores busy; at most ${r.maxHeld} batches held)`,
    );
  }
  const alone = await run(2, 0);
  const stepMs = Math.round((BATCH / alone.rate) * 1000);
  const busy = await run(2, stepMs);
  console.log(
    `  2 threads beside a ${stepMs} ms synchronous step per batch (as long as decoding one): ${busy.rate.toFixed(1)} images/s, ` +
      `${busy.waitPerStep.toFixed(1)} ms a step waiting for data`,
  );
  console.log(`\nwhat training consumes: ${trainingStep(alone.perCpuSecond)}`);

  const t2 = performance.now();
  const legacy = await loadImageFolder(root, { size: SIZE });
  const legacyMs = performance.now() - t2;
  console.log(
    `\nloadImageFolder (pure-JS jpeg-js decode + resize, one thread, whole folder in memory): ${((legacy.size / legacyMs) * 1000).toFixed(1)} images/s`,
  );
} finally {
  cleanup();
}
