/**
 * Timings of the evaluation tools at ResNet-18-like feature sizes (C = 512) on the
 * chosen backend. Run: npm run bench -w packages/eval [-- cpu]
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import {
  denseProbe,
  effectiveRank,
  globalAveragePool,
  knnEvaluate,
  linearProbe,
  regionSimilarity,
  saliencyMaps,
  type FeatureExtractor,
} from '../src/index.js';

const prefer = process.argv[2] === 'cpu' ? 'cpu' : 'wasm';
const info = await initBackend({ prefer });
console.log(`backend ${info.name}`);
const rng = new Rng(0);

function features(
  n: number,
  C: number,
  numClasses: number,
): { x: { data: Float32Array; shape: number[] }; y: Int32Array } {
  const y = Int32Array.from({ length: n }, () => rng.int(numClasses));
  const data = new Float32Array(n * C);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < C; j++) data[i * C + j] = rng.normal() + (j % numClasses === y[i] ? 1 : 0);
  return { x: { data, shape: [n, C] }, y };
}

function time(label: string, fn: () => unknown): void {
  const t0 = performance.now();
  const out = fn();
  const ms = performance.now() - t0;
  console.log(
    `${label.padEnd(58)} ${(ms / 1000).toFixed(2).padStart(7)} s   ${JSON.stringify(out)}`,
  );
}

const C = 512;
const train = features(5000, C, 10);
const test = features(1000, C, 10);
const task = {
  trainFeatures: train.x,
  trainLabels: train.y,
  testFeatures: test.x,
  testLabels: test.y,
  numClasses: 10,
};
time('kNN (k=20), 5000 train x 1000 test, C=512', () => knnEvaluate(task));
time('linear probe, 5000 x 512, 10 epochs, batch 256', () => {
  const r = linearProbe({ ...task, epochs: 10 });
  return { top1: r.top1, lastLoss: +(r.lossCurve.at(-1) ?? NaN).toFixed(3) };
});
const regions = features(4096, C, 10).x;
for (const c of [128, 256]) {
  time(
    `effective rank, 4096 region features x ${c} (Jacobi)`,
    () => +effectiveRank({ data: regions.data.subarray(0, 4096 * c), shape: [4096, c] }).toFixed(2),
  );
}
time(
  'effective rank, 4096 region features x 512 (Jacobi)',
  () => +effectiveRank(regions).toFixed(2),
);
time(
  'region similarity, 256 maps 4x4x512',
  () =>
    +regionSimilarity({
      data: regions.data.subarray(0, 256 * 16 * C),
      shape: [256, 4, 4, C],
    }).toFixed(4),
);

const n = 64;
const K = 21;
const maps = new Float32Array(n * 4 * 4 * C);
const masks = new Int32Array(n * 32 * 32);
for (let i = 0; i < n * 16; i++) {
  const cls = rng.int(K);
  for (let c = 0; c < C; c++) maps[i * C + c] = rng.normal() + (c % K === cls ? 1 : 0);
  const img = Math.floor(i / 16);
  const ry = Math.floor((i % 16) / 4);
  const rx = i % 4;
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 8; x++) masks[img * 1024 + (ry * 8 + y) * 32 + rx * 8 + x] = cls;
}
const seg = { data: maps, shape: [n, 4, 4, C] };
const segMasks = { data: masks, shape: [n, 32, 32] };
time('dense probe, 64 maps 4x4x512 -> 32x32, 21 classes, 5 epochs', () => {
  const r = denseProbe({
    trainMaps: seg,
    trainMasks: segMasks,
    testMaps: seg,
    testMasks: segMasks,
    numClasses: K,
    epochs: 5,
  });
  return { mIoU: +r.mIoU.toFixed(3), pixelAccuracy: +r.pixelAccuracy.toFixed(3) };
});

const kernel = tf.randomNormal([8, 8, 3, C], 0, 0.1, 'float32', 1);
const extractor: FeatureExtractor = (x) => {
  const m = tf.relu(tf.conv2d(x, kernel as tf.Tensor4D, 8, 'valid')) as tf.Tensor4D;
  return { map: m, pooled: globalAveragePool(m) };
};
const images = {
  data: Float32Array.from({ length: 64 * 32 * 32 * 3 }, () => rng.next()),
  shape: [64, 32, 32, 3],
};
time(
  'saliency gradcam, 64 images 32x32, map 4x4x512',
  () => saliencyMaps(extractor, images, { method: 'gradcam' }).shape,
);
kernel.dispose();
console.log(`tensors left: ${tf.memory().numTensors}`);
