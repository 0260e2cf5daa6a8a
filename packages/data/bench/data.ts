/**
 * Throughput of each data source: decoding (load) and batching (Loader, tensors made and
 * disposed), in images per second, on files written to a temporary folder first; and
 * whether prefetching helps a synchronous and an awaiting training loop.
 *
 * Run: npm run bench (in packages/data). Fashion-MNIST under /usr/share/datasets is
 * benchmarked too when present.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { initBackend, Rng } from '@ediy/backend';
import {
  disposeBatch,
  loadCifar,
  loadIdx,
  loadImageFolder,
  Loader,
  pasteScenes,
  syntheticScenes,
  type Dataset,
} from '@ediy/data';
import { cifarRecords, encodeIdx, tempDir } from '../test/fixtures.js';

const info = await initBackend({ prefer: 'wasm' });
console.log(`backend ${info.name}; figures are images per second (higher is better)\n`);

const { dir, cleanup } = tempDir('ediy-data-bench-');
const rows: [string, string, string][] = [];
const rate = (n: number, ms: number): string =>
  `${Math.round((n / ms) * 1000).toLocaleString('en-US')}`;

/** Batches `steps` batches of 64 through a Loader (tensors made and disposed). */
function batching(ds: Dataset, steps: number): number {
  const loader = new Loader(ds, { batchSize: 64, seed: 0, prefetch: false });
  const t = performance.now();
  for (let i = 0; i < steps; i++) disposeBatch(loader.next());
  return performance.now() - t;
}

async function source(
  name: string,
  load: () => Promise<Dataset> | Dataset,
  n: number,
  steps = 40,
): Promise<Dataset> {
  const t = performance.now();
  const ds = await load();
  const loadMs = performance.now() - t;
  const batchMs = batching(ds, steps);
  rows.push([name, n > 0 ? rate(n, loadMs) : '(on demand)', rate(steps * 64, batchMs)]);
  return ds;
}

try {
  // files
  const rng = new Rng(0);
  const nIdx = 10_000;
  const pixels = new Uint8Array(nIdx * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(256);
  const labels = Uint8Array.from({ length: nIdx }, (_, i) => i % 10);
  writeFileSync(join(dir, 'images.gz'), gzipSync(encodeIdx([nIdx, 28, 28], pixels)));
  writeFileSync(join(dir, 'labels.gz'), gzipSync(encodeIdx([nIdx], labels)));
  const nCifar = 5_000;
  writeFileSync(
    join(dir, 'data_batch_1.bin'),
    cifarRecords(nCifar, 10, (i) => [i % 10]),
  );
  const nFolder = 200;
  for (let i = 0; i < nFolder; i++) {
    const cls = join(dir, 'folder', `class${i % 4}`);
    mkdirSync(cls, { recursive: true });
    const w = 96;
    const h = 72;
    const rgba = new Uint8Array(w * h * 4);
    for (let p = 0; p < w * h; p++)
      rgba.set([(p * 7 + i) % 256, (p >> 4) % 256, (i * 13) % 256, 255], 4 * p);
    if (i % 2 === 0) {
      writeFileSync(
        join(cls, `${i}.jpg`),
        jpeg.encode({ width: w, height: h, data: rgba }, 90).data,
      );
    } else {
      const png = new pngjs.PNG({ width: w, height: h });
      png.data.set(rgba);
      writeFileSync(join(cls, `${i}.png`), pngjs.PNG.sync.write(png));
    }
  }

  await source(
    'synthetic 32px (generate + batch)',
    () => syntheticScenes({ count: 100_000, size: 32, numClasses: 10, seed: 0 }),
    0,
  );
  await source(
    'synthetic 64px (generate + batch)',
    () => syntheticScenes({ count: 100_000, size: 64, numClasses: 10, seed: 0 }),
    0,
    10,
  );
  const idx = await source(
    `IDX gz 28px (${nIdx} images)`,
    () => loadIdx(join(dir, 'images.gz'), join(dir, 'labels.gz')),
    nIdx,
  );
  await source(
    'IDX -> pasteScenes 64px rgb',
    () => pasteScenes(idx, { count: 100_000, size: 64, seed: 0, channels: 3 }),
    0,
    10,
  );
  await source(
    `CIFAR-10 32px (${nCifar} images)`,
    () => loadCifar(join(dir, 'data_batch_1.bin'), { variant: 10 }),
    nCifar,
  );
  await source(
    `folder 96x72 JPEG+PNG -> 64px (${nFolder})`,
    () => loadImageFolder(join(dir, 'folder'), { size: 64 }),
    nFolder,
    3,
  );

  const fashion = [
    '/usr/share/datasets/fashion-mnist',
    '/usr/share/datasets/fashion_mnist',
    '/usr/share/datasets/FashionMNIST/raw',
  ]
    .flatMap((d) =>
      ['', '.gz'].map(
        (ext) =>
          [
            join(d, `train-images-idx3-ubyte${ext}`),
            join(d, `train-labels-idx1-ubyte${ext}`),
          ] as const,
      ),
    )
    .find(([i, l]) => existsSync(i) && existsSync(l));
  if (fashion) {
    await source('Fashion-MNIST train (real file)', () => loadIdx(fashion[0], fashion[1]), 60_000);
  } else {
    console.log('Fashion-MNIST not found under /usr/share/datasets: skipped\n');
  }

  console.log('source'.padEnd(42), 'decode/load'.padStart(12), 'batching'.padStart(12));
  for (const [name, load, batch] of rows)
    console.log(name.padEnd(42), load.padStart(12), batch.padStart(12));

  // prefetch: does assembling the next batch in a setImmediate callback save time?
  const ds = syntheticScenes({ count: 100_000, size: 32, numClasses: 10, seed: 1 });
  const steps = 20;
  const x = tf.randomNormal([64, 32, 32, 16]) as tf.Tensor4D;
  const kernel = tf.randomNormal([3, 3, 16, 32]) as tf.Tensor4D;
  const work = (): void => tf.tidy(() => void tf.conv2d(x, kernel, 1, 'same').dataSync());
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const median = (v: number[]): number =>
    [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
  const timeMs = (f: () => void, reps = 5): number =>
    median(
      Array.from({ length: reps }, () => {
        const t = performance.now();
        f();
        return performance.now() - t;
      }),
    );
  work(); // warm-up
  const workMs = timeMs(work);
  const assembleMs = timeMs(() => void ds.get(Array.from({ length: 64 }, (_, i) => i)));
  const awaitMs = Math.ceil(assembleMs * 1.5);
  /** Runs `steps` steps; returns [ms per step, ms per step spent waiting in next()]. */
  const loop = async (prefetch: boolean, idle: number): Promise<[number, number]> => {
    const loader = new Loader(ds, { batchSize: 64, seed: 0, prefetch });
    let waiting = 0;
    const t = performance.now();
    for (let i = 0; i < steps; i++) {
      const w = performance.now();
      const b = loader.next();
      waiting += performance.now() - w;
      work();
      if (idle > 0) await sleep(idle);
      disposeBatch(b);
    }
    loader.dispose();
    return [(performance.now() - t) / steps, waiting / steps];
  };
  console.log(
    `\nprefetch: batch 64 of 32px synthetic scenes (assembly ~${assembleMs.toFixed(1)} ms), ` +
      `step = a conv (~${workMs.toFixed(1)} ms); median of 5 interleaved runs of ${steps} steps`,
  );
  for (const idle of [0, awaitMs]) {
    const off: [number, number][] = [];
    const on: [number, number][] = [];
    for (let r = 0; r < 5; r++) {
      off.push(await loop(false, idle));
      on.push(await loop(true, idle));
    }
    const fmt = (v: [number, number][]): string =>
      `${median(v.map((x) => x[0])).toFixed(1)} ms/step (${median(v.map((x) => x[1])).toFixed(1)} waiting for data)`;
    const what = idle === 0 ? 'synchronous step' : `step, then await ${idle} ms (I/O, read-back)`;
    console.log(`  ${what}:\n    prefetch off ${fmt(off)}\n    prefetch on  ${fmt(on)}`);
  }
  tf.dispose([x, kernel]);
} finally {
  cleanup();
}
