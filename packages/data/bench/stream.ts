/**
 * Throughput of the streaming image-folder loader: images per second of decode +
 * random-resized crop + resize to 224 px in sharp worker threads, on JPEGs of an
 * ImageNet-like size (about 500x375) written to a temporary folder first: made from the
 * photos of Debian's python3-skimage when installed, else synthetic. Then the same with
 * a synchronous training step on the main thread, to show how much decoding overlaps it,
 * and the pure-JS in-memory loader (jpeg-js) on the same files for comparison.
 *
 * Run: npm run bench (in packages/data). Figures depend on the load of the machine.
 */
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '@ediy/backend';
import { loadImageFolder, scanImageFolder, StreamingImageLoader } from '@ediy/data';
import { tempDir } from '../test/fixtures.js';
import { rawImage } from '../test/images.js';

const COUNT = Number(process.env.BENCH_IMAGES ?? 320);
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
      return {
        rate: (steps * BATCH * 1000) / ms,
        waitPerStep: waiting / steps,
        maxHeld: loader.stats().maxHeld,
        cores: (cpu.user + cpu.system) / 1000 / ms,
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
      `  ${workers} thread${workers > 1 ? 's' : ' '}: ${r.rate.toFixed(1)} images/s, using ${r.cores.toFixed(2)} cores (at most ${r.maxHeld} batches held)`,
    );
  }
  const alone = await run(2, 0);
  const stepMs = Math.round((BATCH / alone.rate) * 1000);
  const busy = await run(2, stepMs);
  console.log(
    `  2 threads beside a ${stepMs} ms synchronous step per batch (as long as decoding one): ${busy.rate.toFixed(1)} images/s, ` +
      `${busy.waitPerStep.toFixed(1)} ms a step waiting for data`,
  );

  const t2 = performance.now();
  const legacy = await loadImageFolder(root, { size: SIZE });
  const legacyMs = performance.now() - t2;
  console.log(
    `\nloadImageFolder (pure-JS jpeg-js decode + resize, one thread, whole folder in memory): ${((legacy.size / legacyMs) * 1000).toFixed(1)} images/s`,
  );
} finally {
  cleanup();
}
