#!/usr/bin/env node
// k optimiser steps of ediy's trainer (trainStep: its networks, LARS, schedule and EMA) on
// one fixed pair of views, the views tools/torch/ts-step.mjs wrote, so that
// tools/reference/fixed_views.py can run PyTorch's step from the same weights on the same
// views and the two loss curves can be compared step by step (docs/results/recipe.md):
//
//   node tools/torch/ts-step.mjs config.json ts-step.safetensors
//   node tools/reference/fixed-views.mjs config.json ts-step.safetensors --steps 20 > ediy.json
//   /usr/bin/python3 tools/reference/fixed_views.py config.json ts-step.safetensors --steps 20 > torch.json
//
// The config is an ExperimentConfig (BYOL or E-DIY without a teacher); the learning rate
// and tau of step k are the run's (warm-up + cosine and BYOL's tau over scale.maxSteps
// steps). Prints {"losses": [...]} (the loss before each update). Needs the packages built.
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { byolViewParams } from '@ediy/augment';
import { readSafetensors } from '@ediy/backbones/interop';
import { weightedSum } from '@ediy/losses';
import { LARS, emaTau, warmupCosineLr } from '@ediy/optim';
import { EDIY, trainStep, variables } from '@ediy/trainer';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    steps: { type: 'string', default: '20' },
    'print-updates': { type: 'boolean', default: false },
  },
});
if (positionals.length !== 2) {
  console.error(
    'usage: node tools/reference/fixed-views.mjs <config.json> <ts-step.safetensors> [--steps K]',
  );
  process.exit(2);
}
const [configPath, stepPath] = positionals;
const raw = JSON.parse(readFileSync(configPath, 'utf8'));
const config = raw.config ?? raw;
const k = Number(values.steps);
if (!Number.isInteger(k) || k < 1)
  throw new Error(`--steps must be a positive integer, got ${values.steps}`);
const info = await initBackend();

const file = readSafetensors(readFileSync(stepPath), stepPath);
const nchw = (name) => {
  const t = file.get(name);
  if (!t)
    throw new Error(`${stepPath} has no tensor ${name} (write it with tools/torch/ts-step.mjs)`);
  return tf.tidy(() => tf.transpose(tf.tensor(t.data, t.shape, 'float32'), [0, 2, 3, 1]));
};
const x1 = nchw('x1');
const x2 = nchw('x2');

const { online, target } = EDIY.build(config);
const nets = { method: EDIY, online, target };
const optimizer = new LARS({
  learningRate: 0,
  momentum: config.optim.momentum,
  weightDecay: config.optim.weightDecay,
  eta: config.optim.eta,
  ...(config.optim.larsClip ? { clip: true } : {}),
});
// The views are fixed: a gradient strategy that ignores the batch and uses x1, x2.
const fixed = {
  replicas: 1,
  compute: (cfg, n) => {
    const targets = EDIY.targets(cfg, n.target, x1, x2);
    const views = [
      { images: x1, boxes: null, flipped: null },
      { images: x2, boxes: null, flipped: null },
    ];
    const { value, grads } = tf.variableGrads(
      () =>
        weightedSum(
          EDIY.terms(cfg, {
            online: n.online,
            views,
            targets,
            rng: new Rng(0),
            timeMatchers: (f) => f(),
          }),
          EDIY.weights(cfg),
        ),
      [...variables(n).trainable],
    );
    const loss = value.dataSync()[0];
    tf.dispose([value, Object.values(targets)]);
    return Promise.resolve([{ grads, loss, terms: { byol: loss }, timings: {} }]);
  },
};
const total = config.scale.maxSteps;
const warmup = Math.min(total - 1, Math.round((config.optim.warmupFraction ?? 0) * total));
const losses = [];
for (let step = 0; step < k; step++) {
  const lr = warmupCosineLr(
    {
      baseLr: config.optim.baseLr,
      batchSize: config.scale.batchSize,
      warmupSteps: warmup,
      totalSteps: total,
    },
    step,
  );
  const tau = emaTau({ tau0: config.optim.tau0, totalSteps: total }, step);
  const before = values['print-updates'] ? variables(nets).trainable.map((v) => v.clone()) : [];
  const r = await trainStep(
    { config, nets, optimizer, views: byolViewParams(config.scale.imageSize), gradients: fixed },
    { step, lr, tau, rng: new Rng(0), batch: () => ({ images: x1, dispose() {} }) },
  );
  losses.push(r.loss);
  if (values['print-updates']) {
    // ||w' - w|| / ||w|| of every online variable at this step (stderr).
    variables(nets).trainable.forEach((v, i) => {
      const [d, w] = tf.tidy(() => [
        tf.norm(tf.sub(v, before[i])).dataSync()[0],
        tf.norm(before[i]).dataSync()[0],
      ]);
      console.error(`step ${step} ${v.name} [${v.shape}] ${(d / w).toExponential(3)}`);
    });
    tf.dispose(before);
  }
}
console.log(JSON.stringify({ backend: info.name ?? info, losses }));
