#!/usr/bin/env node
// The two BYOL views of one image and the batches, as the trainer's real path makes them
// (docs/results/curve.md, "Why ediy's kNN trails PyTorch's"): `pretrain` runs the curve's
// config (BYOL, `solo` recipe, mini, Fashion-MNIST, seed 0, a 1500-step schedule) for a few
// steps, once straight through and once in resumed pieces as recipe-ediy.mjs --eval-at
// trains, while two hooks record what the step really uses: every `tf.image.cropAndResize`
// call (the crop boxes and flips of each view, decoded from the boxes it is given, and the
// source images, identified by their pixels among the 60k training images) and every
// `Rng.fork` (the state of each step's 'augment' stream). From those it measures:
//   - the joint distribution of the two views of one image: crop-box IoU, flip agreement,
//     correlation of the jitter / blur / solarize draws (the augment stream redrawn with
//     drawAugmentations and checked against the boxes cropAndResize got), against the same
//     statistics with view 2 taken from another image of the batch (independence baseline)
//     and against recipe.py's own views (tools/reference/view_params.py --pairs);
//   - repeated draws: duplicate augment streams or jitter factors across images and steps;
//   - resume: the pieces' streams and batches against the straight run's, step by step;
//   - batches: 64 distinct images a batch, none repeated within the epoch, in the loader's
//     epochOrder(0); and the loader itself (the Loader openTrainingData's in-memory batches
//     are) over two whole epochs, and again with a seek mid-epoch.
// npm run build first. Prints a JSON report (and writes it to <out>/report.json).
//
//   echo 10 > /proc/self/autogroup; EDIY_THREADS=1 node tools/reference/view-joint.mjs \
//       --out /tmp/view-joint [--steps 30] [--pieces 10,20,30]
//   node tools/reference/view-joint.mjs --loader-only   # the loader's two epochs alone
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { Buffer } from 'node:buffer';
import { Rng } from '@ediy/core';
import { drawAugmentations } from '@ediy/augment';
import { Loader, openDataParts } from '@ediy/data';
import { initBackend } from '@ediy/backend';
import { pretrain, viewParamsOf } from '@ediy/trainer';
import { ci, corr, iou, quantile as q } from './pair-stats.mjs';

const { values: a } = parseArgs({
  options: {
    out: { type: 'string' },
    data: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
    steps: { type: 'string', default: '30' },
    pieces: { type: 'string', default: '10,20,30' },
    'torch-n': { type: 'string', default: '20000' },
    'loader-only': { type: 'boolean', default: false },
  },
});
if (a['loader-only']) {
  // the two-epoch loader check alone (no training): the trainer's in-memory Loader as arrays
  const parts = await openDataParts({ kind: 'path', path: a.data });
  const o = {
    batchSize: 64,
    seed: 0,
    shuffle: true,
    dropLast: true,
    prefetch: false,
    validate: false,
  };
  const read = (n, seekAt) => {
    let l = new Loader(parts.train, o);
    const out = [];
    for (let k = 0; k < n; k++) {
      if (k === seekAt) {
        const at = l.position();
        l = new Loader(parts.train, o);
        l.seek(at);
      }
      out.push(Array.from(l.nextArrays().indices));
    }
    return out;
  };
  const per = Math.floor(parts.train.size / 64);
  const w = read(2 * per, -1);
  const r = read(2 * per, 500);
  const e0 = w.slice(0, per).flat();
  const e1 = w.slice(per).flat();
  console.log(
    JSON.stringify({
      trainSize: parts.train.size,
      stepsPerEpoch: per,
      distinctEpoch0: new Set(e0).size,
      distinctEpoch1: new Set(e1).size,
      minPerBatch: Math.min(...w.map((b) => new Set(b).size)),
      samePositionEpoch0vs1: e0.filter((x, i) => x === e1[i]).length,
      seekEqual: w.every((b, k) => JSON.stringify(b) === JSON.stringify(r[k])),
    }),
  );
  process.exit(0);
}
if (!a.out) {
  console.error(
    'usage: node tools/reference/view-joint.mjs --out DIR [--steps N] [--pieces a,b,..]',
  );
  process.exit(2);
}
const STEPS = Number(a.steps);
const PIECES = a.pieces.split(',').map(Number);
if (!Number.isInteger(STEPS) || STEPS < 1) throw new Error(`--steps must be >= 1, got ${a.steps}`);
if (
  PIECES.some((p, i) => !Number.isInteger(p) || p <= (PIECES[i - 1] ?? 0)) ||
  PIECES.at(-1) !== STEPS
)
  throw new Error(
    `--pieces must be increasing step counts ending at --steps ${STEPS}, got ${a.pieces}`,
  );
const SRC = 28;
const SIZE = 32;
const BATCH = 64;

const config = {
  name: 'view-joint',
  seed: 0,
  method: { byolWeight: 1, regionLosses: [], localPredictor: true },
  scale: {
    backbone: { depth: 18, stem: 'small', widthMultiplier: 0.25 },
    projector: { hidden: 512, out: 128 },
    imageSize: SIZE,
    batchSize: BATCH,
    accumulate: 1,
    epochs: 2,
    maxSteps: 1500,
    data: { kind: 'path', path: a.data },
  },
  optim: {
    baseLr: 1,
    weightDecay: 1e-5,
    momentum: 0.9,
    eta: 0.02,
    larsClip: true,
    warmupFraction: 0.01,
    tau0: 0.99,
  },
  checkpoint: { every: 1500, keep: PIECES.length + 1 },
};
const views = viewParamsOf(config);

// ---------------------------------------------------------------- the source images
function readIdx(path) {
  const raw = gunzipSync(readFileSync(path));
  const ndim = raw[3];
  const off = 4 + 4 * ndim;
  return raw.subarray(off);
}
const trainBytes = readIdx(join(a.data, 'train-images-idx3-ubyte.gz'));
const N_TRAIN = trainBytes.length / (SRC * SRC);
const byKey = new Map();
for (let i = 0; i < N_TRAIN; i++) {
  const k = Buffer.from(trainBytes.subarray(i * 784, (i + 1) * 784)).toString('latin1');
  const l = byKey.get(k);
  if (l) l.push(i);
  else byKey.set(k, [i]);
}
const duplicateImages = [...byKey.values()].filter((l) => l.length > 1).length;

// ---------------------------------------------------------------- the hooks
let calls = [];
let augStreams = [];
let pixelErr = 0;
const crop = tf.image.cropAndResize;
tf.image.cropAndResize = function (image, boxes, boxInd, cropSize, ...rest) {
  const [B, Hp, Wp, C] = image.shape;
  const px = image.dataSync();
  const bx = boxes.dataSync();
  const pad = (Hp - SRC) / 2;
  const rec = { B, pad, boxes: [], flips: [], images: [] };
  const sy = Hp - 1;
  const sx = Wp - 1;
  for (let i = 0; i < B; i++) {
    const [c0, c1, c2, c3] = bx.subarray(4 * i, 4 * i + 4);
    const ys = c0 * sy - pad;
    const ye = c2 * sy - pad;
    const flip = c1 > c3;
    const xs = (flip ? c3 : c1) * sx - pad;
    const xe = (flip ? c1 : c3) * sx - pad;
    const bh = ((ye - ys) * SIZE) / (SIZE - 1);
    const bw = ((xe - xs) * SIZE) / (SIZE - 1);
    const y0 = ys + 0.5 - (0.5 * bh) / SIZE;
    const x0 = xs + 0.5 - (0.5 * bw) / SIZE;
    rec.boxes.push({ x0, y0, x1: x0 + bw, y1: y0 + bh });
    rec.flips.push(flip);
    const bytes = Buffer.alloc(784);
    for (let y = 0; y < SRC; y++)
      for (let x = 0; x < SRC; x++) {
        const base = ((i * Hp + y + pad) * Wp + x + pad) * C;
        const v = px[base] * 255;
        const r = Math.round(v);
        pixelErr = Math.max(
          pixelErr,
          Math.abs(v - r),
          Math.abs(px[base + 1] - px[base]),
          Math.abs(px[base + 2] - px[base]),
        );
        bytes[y * SRC + x] = r;
      }
    const idx = byKey.get(bytes.toString('latin1'));
    rec.images.push(idx ? idx[0] : -1);
  }
  calls.push(rec);
  return crop.call(this, image, boxes, boxInd, cropSize, ...rest);
};
const fork = Rng.prototype.fork;
const paths = new WeakMap();
Rng.prototype.fork = function (label) {
  const child = fork.call(this, label);
  const p = `${paths.get(this) ?? 'root'}/${label}`;
  paths.set(child, p);
  if (label === 'augment') augStreams.push({ path: p, state: child.state() });
  return child;
};

// ---------------------------------------------------------------- the runs
await initBackend();
async function run(dir, pieces) {
  rmSync(dir, { recursive: true, force: true });
  calls = [];
  augStreams = [];
  let done = 0;
  for (const p of pieces) {
    const r = await pretrain(config, {
      runDir: dir,
      resume: done > 0,
      stopAfter: p - done,
      handleSigint: false,
      progress: null,
    });
    done = r.steps;
    console.error(`view-joint: ${dir}: ${done} steps, ${(performance.now() / 1000).toFixed(0)} s`);
  }
  if (calls.length !== 2 * done || augStreams.length !== done)
    throw new Error(
      `expected 2 cropAndResize calls and one augment stream a step (${done} steps), got ${calls.length} and ${augStreams.length}`,
    );
  return Array.from({ length: done }, (_, k) => ({
    stream: augStreams[k],
    v1: calls[2 * k],
    v2: calls[2 * k + 1],
  }));
}
mkdirSync(a.out, { recursive: true });
const straight = await run(join(a.out, 'straight'), [STEPS]);
const pieced = await run(join(a.out, 'pieces'), PIECES);

// ---------------------------------------------------------------- redraw and check
let boxErr = 0;
let flipMismatch = 0;
const pairs = [];
for (const s of straight) {
  const rng = Rng.fromState(s.stream.state);
  const d1 = drawAugmentations(BATCH, SRC, SRC, views[0], rng);
  const d2 = drawAugmentations(BATCH, SRC, SRC, views[1], rng);
  for (const [d, v] of [
    [d1, s.v1],
    [d2, s.v2],
  ])
    d.forEach((di, i) => {
      for (const k of ['x0', 'y0', 'x1', 'y1'])
        boxErr = Math.max(boxErr, Math.abs(di.box[k] - v.boxes[i][k]));
      if (di.flipped !== v.flips[i]) flipMismatch++;
    });
  for (let i = 0; i < BATCH; i++) pairs.push({ a: d1[i], b: d2[i], other: d2[(i + 1) % BATCH] });
}

function joint(list, pick) {
  const b = list.map(pick);
  const ious = list.map((p, i) => iou(p.a.box, b[i].box));
  const num = (f) => [list.map((p) => +f(p.a)), b.map((x) => +f(x))];
  const r = (f) => corr(...num(f));
  const bcFirst = (d) => d.jitter.order.indexOf('brightness') < d.jitter.order.indexOf('contrast');
  return {
    n: list.length,
    iouMean: ci(ious),
    iouQuantiles: [0.05, 0.25, 0.5, 0.75, 0.95].map((p) => q(ious, p)),
    iouAbove09: ci(ious.map((x) => +(x > 0.9))),
    sameBox: ci(list.map((p, i) => +(iou(p.a.box, b[i].box) === 1))),
    flipAgree: ci(list.map((p, i) => +(p.a.flipped === b[i].flipped))),
    corr: {
      area: r((d) => (d.box.x1 - d.box.x0) * (d.box.y1 - d.box.y0)),
      x0: r((d) => d.box.x0),
      y0: r((d) => d.box.y0),
      flip: r((d) => d.flipped),
      jitterApplied: r((d) => d.jitter.applied),
      brightness: r((d) => d.jitter.brightness),
      contrast: r((d) => d.jitter.contrast),
      brightnessFirst: r(bcFirst),
      grayscale: r((d) => d.grayscale),
    },
    corrSe: 1 / Math.sqrt(list.length),
  };
}
const sameImageViews = joint(pairs, (p) => p.b);
const otherImage = joint(pairs, (p) => p.other);

// repeats: every jitter factor drawn (both views, all images, all steps) and every stream
const allDraws = straight.flatMap((s) => {
  const rng = Rng.fromState(s.stream.state);
  return [
    ...drawAugmentations(BATCH, SRC, SRC, views[0], rng),
    ...drawAugmentations(BATCH, SRC, SRC, views[1], rng),
  ];
});
const distinct = (xs) => new Set(xs.map((x) => JSON.stringify(x))).size;
const repeats = {
  draws: allDraws.length,
  distinctBrightness: distinct(allDraws.map((d) => d.jitter.brightness)),
  distinctDrawn: distinct(
    allDraws.map((d) => [d.box, d.flipped, d.jitter.brightness, d.jitter.contrast]),
  ),
  streams: straight.length,
  distinctStreams: distinct(straight.map((s) => s.stream.state)),
  streamPaths: [straight[0].stream.path, straight.at(-1).stream.path],
};

// resume: the pieces against the straight run
const resume = {
  pieces: PIECES,
  sameStreams: straight.filter(
    (s, k) => JSON.stringify(s.stream.state) === JSON.stringify(pieced[k].stream.state),
  ).length,
  sameBatches: straight.filter(
    (s, k) => JSON.stringify(s.v1.images) === JSON.stringify(pieced[k].v1.images),
  ).length,
  sameBoxes: straight.filter(
    (s, k) =>
      JSON.stringify([s.v1.boxes, s.v2.boxes]) ===
      JSON.stringify([pieced[k].v1.boxes, pieced[k].v2.boxes]),
  ).length,
  piecesDistinctStreams: distinct(pieced.map((s) => s.stream.state)),
  piecesDistinctBatches: distinct(pieced.map((s) => s.v1.images)),
};

// batches in the real path
const loaderSeed = config.seed;
const order0 = new Rng(loaderSeed).fork('epoch:0').permutation(N_TRAIN);
const seen = straight.flatMap((s) => s.v1.images);
const batches = {
  unidentified: seen.filter((i) => i < 0).length,
  duplicateImagesInDataset: duplicateImages,
  pixelErrMax: pixelErr,
  distinctPerBatch: [
    Math.min(...straight.map((s) => new Set(s.v1.images).size)),
    Math.max(...straight.map((s) => new Set(s.v1.images).size)),
  ],
  view2SameImages: straight.filter(
    (s) => JSON.stringify(s.v1.images) === JSON.stringify(s.v2.images),
  ).length,
  distinctInRun: new Set(seen).size,
  imagesInRun: seen.length,
  // a duplicated image maps to its first index: compare through the pixels
  inEpochOrder0: seen.filter(
    (idx, j) =>
      byKey.get(
        Buffer.from(trainBytes.subarray(order0[j] * 784, order0[j] * 784 + 784)).toString('latin1'),
      )[0] === idx,
  ).length,
};

// the loader itself over two epochs, with a seek mid-epoch: the trainer's in-memory batches
// (openTrainingData's) are a Loader with these options; its arrays, without the tensors
const parts = await openDataParts(config.scale.data);
const loaderOptions = {
  batchSize: BATCH,
  seed: config.seed,
  shuffle: true,
  dropLast: true,
  prefetch: false,
  validate: false,
};
function indices(stepsToRead, seekAt) {
  let l = new Loader(parts.train, loaderOptions);
  const out = [];
  for (let k = 0; k < stepsToRead; k++) {
    if (k === seekAt) {
      const at = l.position();
      l = new Loader(parts.train, loaderOptions);
      l.seek(at);
    }
    out.push(Array.from(l.nextArrays().indices));
  }
  return out;
}
const perEpoch = Math.floor(parts.train.size / BATCH);
console.error(`view-joint: the loader over 2 x ${perEpoch} batches, twice`);
const whole = indices(2 * perEpoch, -1);
const restored = indices(2 * perEpoch, 500);
const epochs = [0, 1].map((e) => whole.slice(e * perEpoch, (e + 1) * perEpoch).flat());
const ep = (e) => epochs[e];
const sameImage = (i, j) =>
  i === j ||
  byKey.get(Buffer.from(trainBytes.subarray(i * 784, (i + 1) * 784)).toString('latin1'))[0] === j;
const loader = {
  trainSize: parts.train.size,
  stepsPerEpoch: perEpoch,
  distinctEpoch0: new Set(ep(0)).size,
  distinctEpoch1: new Set(ep(1)).size,
  minPerBatch: Math.min(...whole.map((b) => new Set(b).size)),
  samePositionEpoch0vs1: ep(0).filter((x, i) => x === ep(1)[i]).length,
  seekEqual: whole.every((b, k) => JSON.stringify(b) === JSON.stringify(restored[k])),
  realPathEqualsLoader: seen.every((idx, j) =>
    sameImage(whole[Math.floor(j / BATCH)][j % BATCH], idx),
  ),
};

// recipe.py's own pairs
const here = dirname(fileURLToPath(import.meta.url));
const t = spawnSync(
  '/usr/bin/python3',
  [join(here, 'view_params.py'), '--n', a['torch-n'], '--seed', '0'],
  {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  },
);
if (t.status !== 0) throw new Error(`view_params.py failed (${t.status}): ${t.stderr}`);
const tp = JSON.parse(t.stdout);
const tbox = (r) => ({ x0: r.left, y0: r.top, x1: r.left + r.w, y1: r.top + r.h });
const tious = tp.view1.map((r, i) => iou(tbox(r), tbox(tp.view2[i])));
const torch = {
  n: tious.length,
  iouMean: ci(tious),
  iouQuantiles: [0.05, 0.25, 0.5, 0.75, 0.95].map((p) => q(tious, p)),
  iouAbove09: ci(tious.map((x) => +(x > 0.9))),
  sameBox: ci(tious.map((x) => +(x === 1))),
  flipAgree: ci(tp.view1.map((r, i) => +(r.flip === tp.view2[i].flip))),
};

const report = {
  check: { boxErrMaxPx: boxErr, flipMismatch, steps: STEPS },
  sameImage: sameImageViews,
  otherImage,
  torch,
  repeats,
  resume,
  batches,
  loader,
};
writeFileSync(join(a.out, 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
console.log(JSON.stringify(report, null, 1));
process.exit(0);
