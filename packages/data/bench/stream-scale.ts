/**
 * Memory of the streaming loader on a folder far larger than fits decoded: writes
 * `BENCH_SCALE_IMAGES` (default 20000) small JPEGs (64 distinct textured photos-like
 * images of 240-320 x 180-240 px, copied under distinct names) into a temporary folder,
 * then streams one epoch of it at `BENCH_SCALE_SIZE` px (default 256, where 20000 images
 * decoded as float32 would take 15.7 GB) and prints the process's resident memory
 * (RSS) as it goes, the images/s, and CPU-seconds beside wall seconds.
 *
 * Run: npm run bench:scale (in packages/data). It takes minutes; figures depend on the
 * machine's load (printed).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '@ediy/backend';
import { scanImageFolder, StreamingImageLoader } from '@ediy/data';
import { tempDir } from '../test/fixtures.js';
import { rawImage } from '../test/images.js';

const COUNT = Number(process.env.BENCH_SCALE_IMAGES ?? 20000);
const SIZE = Number(process.env.BENCH_SCALE_SIZE ?? 256);
const BATCH = 64;
const WORKERS = Number(process.env.BENCH_SCALE_WORKERS ?? 2);
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;

const { dir, cleanup } = tempDir('ediy-stream-scale-');
try {
  const rng = new Rng(0);
  const bases: string[] = [];
  const t0 = performance.now();
  mkdirSync(join(dir, 'base'));
  for (let b = 0; b < 64; b++) {
    const w = 240 + rng.int(81);
    const h = 180 + rng.int(61);
    const a = rng.int(256);
    const out = join(dir, 'base', `${b}.jpg`);
    await sharp(
      rawImage(w, h, (x, y) => [
        (x * 3 + a + ((x * y) % 37)) % 256,
        (y * 5 + b * 11) % 256,
        ((x ^ y) + a) % 256,
      ]),
      { raw: { width: w, height: h, channels: 3 } },
    )
      .jpeg({ quality: 85 })
      .toFile(out);
    bases.push(out);
  }
  const root = join(dir, 'folder');
  for (let c = 0; c < 10; c++) mkdirSync(join(root, `class${c}`), { recursive: true });
  for (let i = 0; i < COUNT; i++) {
    copyFileSync(
      bases[i % bases.length] as string,
      join(root, `class${i % 10}`, `${String(i).padStart(6, '0')}.jpg`),
    );
  }
  console.log(
    `${COUNT} JPEGs (240-320 x 180-240 px) written in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
      `${availableParallelism()} cores, load average ${loadavg()[0]?.toFixed(1)}`,
  );
  const t1 = performance.now();
  const scan = await scanImageFolder(root);
  console.log(
    `scan: ${scan.items.length} images in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
  );
  const decodedBytes = COUNT * SIZE * SIZE * 3 * 4;
  console.log(
    `decoded whole at ${SIZE} px as float32 the folder would take ${mb(decodedBytes)} (as bytes ${mb(decodedBytes / 4)})`,
  );

  const loader = new StreamingImageLoader(scan, {
    size: SIZE,
    batchSize: BATCH,
    seed: 0,
    workers: WORKERS,
    prefetch: 2,
    flip: true,
  });
  try {
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    console.log(
      `\nstreaming one epoch: ${loader.stepsPerEpoch} batches of ${BATCH} at ${SIZE} px, ${WORKERS} decode threads, prefetch 2; RSS before: ${mb(rss0)}`,
    );
    const samples: number[] = [];
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    const every = Math.max(1, Math.floor(loader.stepsPerEpoch / 10));
    for (let s = 0; s < loader.stepsPerEpoch; s++) {
      await loader.nextArrays();
      const rss = process.memoryUsage().rss;
      samples.push(rss);
      if ((s + 1) % every === 0 || s + 1 === loader.stepsPerEpoch) {
        const secs = (performance.now() - t) / 1000;
        console.log(
          `  ${String((s + 1) * BATCH).padStart(7)} images  ${secs.toFixed(1).padStart(6)} s  ${(((s + 1) * BATCH) / secs).toFixed(0).padStart(4)} images/s  RSS ${mb(rss)}`,
        );
      }
    }
    const wall = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const tail = samples.slice(Math.floor(samples.length / 10));
    console.log(
      `\n${loader.stepsPerEpoch * BATCH} images in ${wall.toFixed(1)} s wall, ${cpuSeconds.toFixed(1)} CPU-s (all threads): ` +
        `${((loader.stepsPerEpoch * BATCH) / wall).toFixed(0)} images/s, ${((loader.stepsPerEpoch * BATCH) / cpuSeconds).toFixed(0)} images per CPU-second`,
    );
    console.log(
      `RSS after the first 10% of batches: min ${mb(Math.min(...tail))}, max ${mb(Math.max(...tail))}; ` +
        `at most ${loader.stats().maxHeld} batches held (${mb(loader.stats().maxHeld * BATCH * SIZE * SIZE * 3 * 4)} of pixels)`,
    );
  } finally {
    await loader.close();
  }
} finally {
  cleanup();
}
