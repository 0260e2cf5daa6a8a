#!/usr/bin/env node
// A short-run recipe trained by ediy itself (pretrain with a custom ExperimentConfig, the
// engine initBackend picks: native when built), for docs/results/recipe.md. The online
// backbone of the last checkpoint is written as a torchvision state dict, which
// tools/reference/recipe.py evaluates exactly as its own runs:
//
//   EDIY_THREADS=1 nice -n 10 node tools/reference/recipe-ediy.mjs --out runs/recipe-ediy/solo-s0 \
//       --steps 300 --seed 0 --base-lr 1.0 --eta 0.02 --clip --weight-decay 1e-5 --tau0 0.99 \
//       --warmup-frac 0.01
//   /usr/bin/python3 tools/reference/recipe.py eval --weights runs/recipe-ediy/solo-s0/backbone.safetensors \
//       --out runs/recipe-ediy/solo-s0/eval
//
// Flags as recipe.py's: the mini architecture (ResNet-18, small stem, width 0.25, projector
// 512/128), 32 px views, batch 64, Fashion-MNIST's training split; --method ediy adds
// teacher-guided R-DEM and R-IEM with --teacher-run (a BYOL run directory) as the teacher.
// --untrained writes the seeded initial backbone of the same config instead (the floor of
// the run's own initialisation) and trains nothing.
// --eval-at 0,150,300,... trains the one schedule of --steps in pieces (pretrain's stopAfter,
// each piece resuming the last one's checkpoint exactly) and after each listed step writes the
// online backbone to <out>/at-<step>/backbone.safetensors (0: the initial weights), keeps that
// step's checkpoint, runs `recipe.py eval` on it (--eval-flags, default the page's protocol:
// `--bn running --memory 10000 --seed <seed>`) and appends a line to <out>/curve.jsonl with the
// training's CPU-seconds and wall so far, the evaluation's and the load average
// (docs/results/curve.md):
//
//   EDIY_THREADS=1 node tools/reference/recipe-ediy.mjs --out runs/curve/ediy-byol --steps 1500 \
//       --eval-at 0,150,300,600,1000,1500 --seed 0 --base-lr 1.0 --eta 0.02 --clip \
//       --weight-decay 1e-5 --tau0 0.99 --warmup-frac 0.01
// Needs the packages built (npm run build).
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import { exportTorchvisionWeights, writeSafetensors } from '@ediy/backbones/interop';
import { LARS } from '@ediy/optim';
import {
  buildOnline,
  latestCheckpoint,
  loadCheckpoint,
  pretrain,
  restoreWeights,
} from '@ediy/trainer';

const { values: a } = parseArgs({
  options: {
    out: { type: 'string' },
    data: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
    method: { type: 'string', default: 'byol' },
    'teacher-run': { type: 'string' },
    seed: { type: 'string', default: '0' },
    steps: { type: 'string', default: '300' },
    width: { type: 'string', default: '0.25' },
    'base-lr': { type: 'string', default: '0.2' },
    eta: { type: 'string', default: '1e-3' },
    clip: { type: 'boolean', default: false },
    untrained: { type: 'boolean', default: false },
    'weight-decay': { type: 'string', default: '1.5e-6' },
    tau0: { type: 'string', default: '0.996' },
    'warmup-frac': { type: 'string', default: String(10 / 300) },
    'crop-min': { type: 'string', default: '0.08' },
    'eval-at': { type: 'string' },
    'eval-flags': { type: 'string' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
if (!a.out) {
  console.error('usage: node tools/reference/recipe-ediy.mjs --out DIR [recipe flags]');
  process.exit(2);
}
const num = (k) => {
  const v = Number(a[k]);
  if (!Number.isFinite(v)) throw new Error(`--${k} must be a number, got ${JSON.stringify(a[k])}`);
  return v;
};
const steps = num('steps');
const batchSize = 64;
const trainImages = 60000; // Fashion-MNIST's training split
const stepsPerEpoch = Math.floor(trainImages / batchSize);
if (a.clip) {
  // @ediy/optim builds before the fix of the clipped factor at lr = 0 (it was 1, which puts
  // the raw gradient into the momentum buffer at a warm-up's first step): take the lr = 0
  // step unclipped, i.e. with BYOL's trust ratio r, the factor @ediy/optim uses now. With a
  // fixed build this changes nothing.
  const apply = LARS.prototype.applyGradients;
  LARS.prototype.applyGradients = function (grads) {
    if (this.learningRate > 0 || !this.clip) return apply.call(this, grads);
    this.clip = false;
    try {
      return apply.call(this, grads);
    } finally {
      this.clip = true;
    }
  };
}
const backbone = { depth: 18, stem: 'small', widthMultiplier: num('width') };
const regionLosses =
  a.method === 'ediy'
    ? [
        { loss: 'r-dem', weight: 1, matcher: 'teacher' },
        { loss: 'r-iem', weight: 1, matcher: 'teacher' },
      ]
    : [];
const config = {
  name: `recipe-${a.method}`,
  seed: num('seed'),
  method: { byolWeight: 1, regionLosses, localPredictor: true },
  scale: {
    backbone,
    projector: { hidden: 512, out: 128 },
    imageSize: 32,
    batchSize,
    accumulate: 1,
    epochs: Math.ceil(steps / stepsPerEpoch),
    maxSteps: steps,
    data: { kind: 'path', path: a.data },
  },
  optim: {
    baseLr: num('base-lr'),
    weightDecay: num('weight-decay'),
    momentum: 0.9,
    eta: num('eta'),
    larsClip: a.clip,
    // warm-up steps = min(steps - 1, round(frac x steps)), as recipe.py
    warmupFraction: num('warmup-frac'),
    tau0: num('tau0'),
  },
  // the random resized crop's area share [crop-min, 1] on both views (BYOL's 0.08)
  ...(num('crop-min') !== 0.08 ? { augment: { both: { cropScale: [num('crop-min'), 1] } } } : {}),
  // with --eval-at every point's checkpoint is kept (the pieces end on them)
  checkpoint: { every: steps, keep: a['eval-at'] ? a['eval-at'].split(',').length + 1 : 1 },
  ...(a.method === 'ediy' ? { teacher: { run: a['teacher-run'] } } : {}),
};
const info = await initBackend();
if (a.untrained) {
  mkdirSync(a.out, { recursive: true });
  const online = buildOnline(config);
  writeFileSync(
    join(a.out, 'backbone.safetensors'),
    writeSafetensors(exportTorchvisionWeights(online.backbone, backbone), { format: 'pt' }),
  );
  for (const model of Object.values(online)) model.dispose();
  console.error(`recipe-ediy: the untrained backbone of seed ${config.seed} in ${a.out}`);
  process.exit(0);
}
console.error(`recipe-ediy: ${info.description ?? info.name ?? JSON.stringify(info)}`);

/** The online backbone of a run directory's newest checkpoint, written to `file` (torchvision names). */
function exportLatest(file) {
  const ckpt = loadCheckpoint(latestCheckpoint(join(a.out, 'checkpoints')));
  const model = resnet({ ...backbone, name: 'recipe_backbone', seed: 0 });
  restoreWeights(model, ckpt.weights['online.backbone'], 'online.backbone');
  writeFileSync(
    file,
    writeSafetensors(exportTorchvisionWeights(model, backbone), { format: 'pt' }),
  );
  tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);
  model.dispose();
}

if (a['eval-at']) {
  const points = [...new Set(a['eval-at'].split(',').map(Number))].sort((x, y) => x - y);
  for (const p of points)
    if (!Number.isInteger(p) || p < 0 || p > steps)
      throw new Error(
        `--eval-at must list step counts in [0, --steps ${steps}], got ${JSON.stringify(a['eval-at'])}`,
      );
  const recipePy = join(dirname(fileURLToPath(import.meta.url)), 'recipe.py');
  const evalFlags = (a['eval-flags'] ?? `--bn running --memory 10000 --seed ${a.seed}`).split(
    /\s+/,
  );
  const cpuStart = process.cpuUsage();
  let trainWall = 0;
  let done = 0;
  for (const p of points) {
    const sub = join(a.out, `at-${p}`);
    if (p > done) {
      const t = performance.now();
      const r = await pretrain(config, {
        runDir: a.out,
        resume: done > 0,
        stopAfter: p - done,
        handleSigint: false,
        progress: null,
      });
      trainWall += (performance.now() - t) / 1000;
      done = r.steps;
      if (done !== p) throw new Error(`pretrain stopped at step ${done}, expected ${p}`);
    }
    mkdirSync(sub, { recursive: true });
    if (p === 0) {
      const online = buildOnline(config);
      writeFileSync(
        join(sub, 'backbone.safetensors'),
        writeSafetensors(exportTorchvisionWeights(online.backbone, backbone), { format: 'pt' }),
      );
      for (const model of Object.values(online)) model.dispose();
    } else exportLatest(join(sub, 'backbone.safetensors'));
    const c = process.cpuUsage(cpuStart);
    const trainCpuSec = (c.user + c.system) / 1e6;
    const load = loadavg();
    const t = performance.now();
    const ev = spawnSync(
      a.python,
      [
        recipePy,
        'eval',
        '--data',
        a.data,
        '--weights',
        join(sub, 'backbone.safetensors'),
        '--out',
        join(sub, 'eval'),
        ...evalFlags,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
    );
    if (ev.status !== 0) throw new Error(`recipe.py eval of step ${p} failed (${ev.status})`);
    const evalWallSec = (performance.now() - t) / 1000;
    const evals = JSON.parse(readFileSync(join(sub, 'eval', 'result.json'), 'utf8')).evals;
    const log =
      p > 0
        ? readFileSync(join(a.out, 'log.jsonl'), 'utf8').trim().split('\n').map(JSON.parse)
        : [];
    const last = log.filter((r) => r.step > p - 25 && r.step <= p);
    const row = {
      step: p,
      trainCpuSec,
      trainWallSec: trainWall,
      evalCpuSec: evals.reduce((s, e) => s + e.evalCpuSec, 0),
      evalWallSec,
      loadavg: load,
      loss25: last.length ? last.reduce((s, r) => s + r.loss, 0) / last.length : null,
      evals,
    };
    appendFileSync(join(a.out, 'curve.jsonl'), `${JSON.stringify(row)}\n`);
    console.error(`recipe-ediy: point ${JSON.stringify(row)}`);
  }
  writeFileSync(
    join(a.out, 'summary.json'),
    `${JSON.stringify({ config, backend: info, steps: done, points }, null, 1)}\n`,
  );
  process.exit(0);
}
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const result = await pretrain(config, { runDir: a.out, resume: false, handleSigint: false });
const wallSec = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSec = (cpu.user + cpu.system) / 1e6;

const ckpt = loadCheckpoint(latestCheckpoint(join(a.out, 'checkpoints')));
const model = resnet({ ...backbone, name: 'recipe_backbone', seed: 0 });
restoreWeights(model, ckpt.weights['online.backbone'], 'online.backbone');
writeFileSync(
  join(a.out, 'backbone.safetensors'),
  writeSafetensors(exportTorchvisionWeights(model, backbone), { format: 'pt' }),
);
tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);
model.dispose();
const log = readFileSync(join(a.out, 'log.jsonl'), 'utf8').trim().split('\n').map(JSON.parse);
const summary = {
  config,
  clip: a.clip,
  backend: info,
  steps: result.steps,
  trainWallSec: wallSec,
  trainCpuSec: cpuSec,
  cpuSecPerStep: cpuSec / result.steps,
  loss: log.filter((r) => r.step % 25 === 0 || r.step === 1).map((r) => [r.step, r.loss]),
};
writeFileSync(join(a.out, 'summary.json'), `${JSON.stringify(summary, null, 1)}\n`);
console.error(
  `recipe-ediy: ${result.steps} steps, ${wallSec.toFixed(0)} s wall, ${cpuSec.toFixed(0)} CPU-s (${(cpuSec / result.steps).toFixed(2)} a step)`,
);
