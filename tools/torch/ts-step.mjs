#!/usr/bin/env node
// One E-DIY micro-step of the TypeScript trainer, written out for tools/torch/ediy_train.py
// --check-step: the two views it trained on (NCHW), every weight of the online, target and
// teacher networks under the PyTorch trainer's names, the loss, its terms and the gradients of
// the online weights, so PyTorch
// can run its step on the very same weights and views and compare.
// Usage: node tools/torch/ts-step.mjs <config.json> <out.safetensors> [--backend wasm|cpu]
// The config's teacher (if any) must exist. Needs the packages built (npm run build).
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { byolViewParams, byolViews } from '@ediy/augment';
import { resnet } from '@ediy/backbones';
import { exportTorchvisionWeights, writeSafetensors } from '@ediy/backbones/interop';
import { buildOnline, buildTarget, loadTeacher, microStep, openDataset } from '@ediy/trainer';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { backend: { type: 'string', default: 'wasm' } },
});
if (positionals.length !== 2) {
  console.error(
    'usage: node tools/torch/ts-step.mjs <config.json> <out.safetensors> [--backend wasm|cpu]',
  );
  process.exit(2);
}
const [configPath, outPath] = positionals;
const raw = JSON.parse(readFileSync(configPath, 'utf8'));
const config = raw.config ?? raw;
await initBackend({ prefer: values.backend });

const online = buildOnline(config);
const target = buildTarget(config, online);
const teacher = await loadTeacher(config);
const dataset = await openDataset(config.scale.data, 'train');
const b = config.scale.batchSize;
const [h, w, c] = dataset.imageShape;
const batch = dataset.get(Array.from({ length: b }, (_, i) => i % dataset.size));
const images = tf.tensor4d(batch.images, [b, h, w, c]);
const views = byolViewParams(config.scale.imageSize, { scaleBlurSigma: true });
const rng = new Rng(config.seed).fork('check-step');

/** @type {Map<string, {dtype: 'F32', shape: number[], data: Float32Array}>} */
const out = new Map();
const put = (name, t) => out.set(name, { dtype: 'F32', shape: t.shape, data: t.dataSync() });

// The views microStep draws: it takes them from rng.fork('augment'), and forking is pure.
const [v1, v2] = byolViews(images, rng.fork('augment'), views);
put('x1', tf.transpose(v1.images, [0, 3, 1, 2]));
put('x2', tf.transpose(v2.images, [0, 3, 1, 2]));
tf.dispose([v1.images, v2.images]);

const backbone = config.scale.backbone;
const putBackbone = (prefix, model) => {
  for (const [k, t] of exportTorchvisionWeights(model, backbone)) {
    if (t.dtype === 'F32') out.set(`${prefix}.${k}`, t);
  }
};
// A head (Linear/Conv-BN-ReLU-Linear/Conv) as the PyTorch nn.Sequential: indices 0, 1, 3.
const putHead = (prefix, model) => {
  const layers = model.layers.filter((l) => l.getWeights().length > 0);
  const index = [0, 1, 3];
  layers.forEach((layer, i) => {
    const at = `${prefix}.${index[i]}`;
    const named = Object.fromEntries(
      layer.weights.map((v) => [v.originalName.split('/').pop(), v.read()]),
    );
    if (named.gamma) {
      put(`${at}.weight`, named.gamma);
      put(`${at}.bias`, named.beta);
      put(`${at}.running_mean`, named.moving_mean);
      put(`${at}.running_var`, named.moving_variance);
      return;
    }
    const kernel = named.kernel;
    put(
      `${at}.weight`,
      kernel.rank === 2 ? tf.transpose(kernel) : tf.transpose(kernel, [3, 2, 0, 1]),
    );
    if (named.bias) put(`${at}.bias`, named.bias);
  });
};
putBackbone('online.backbone', online.backbone);
putHead('online.projector', online.projector);
putHead('online.predictor', online.predictor);
putHead('online.local_projector', online.localProjector);
if (online.localPredictor) putHead('online.local_predictor', online.localPredictor);
putBackbone('target.backbone', target.backbone);
putHead('target.projector', target.projector);
putHead('target.local_projector', target.localProjector);
if (teacher) putBackbone('teacher', teacher);

// The gradients, under the same names (prefix `grad.`): a copy of each online module holding
// the gradients in place of its trainable weights goes through the same conversions.
const result = microStep(
  config,
  { online, target, ...(teacher ? { teacher } : {}) },
  images,
  rng,
  views,
);
const withGrads = (model) =>
  model.weights.map((v) => {
    const g = result.grads[v.read().name];
    return g ?? tf.zerosLike(v.read());
  });
const gradBackbone = resnet({ ...backbone, name: 'grad_backbone' });
gradBackbone.setWeights(withGrads(online.backbone));
putBackbone('grad.online.backbone', gradBackbone);
gradBackbone.dispose();
const putGradHead = (prefix, model) => {
  const saved = model.getWeights().map((t) => t.clone());
  model.setWeights(withGrads(model));
  putHead(prefix, model);
  model.setWeights(saved);
};
putGradHead('grad.online.projector', online.projector);
putGradHead('grad.online.predictor', online.predictor);
putGradHead('grad.online.local_projector', online.localProjector);
if (online.localPredictor) putGradHead('grad.online.local_predictor', online.localPredictor);
tf.dispose(Object.values(result.grads));
writeFileSync(
  outPath,
  writeSafetensors(out, {
    loss: String(result.loss),
    terms: JSON.stringify(result.terms),
    backend: tf.getBackend(),
  }),
);
console.error(
  `${outPath}: loss ${result.loss} ${JSON.stringify(result.terms)} (${tf.getBackend()})`,
);
