#!/usr/bin/env node
// One set of drawn view parameters through both implementations' pixel ops
// (docs/results/curve.md, "Why ediy's kNN trails PyTorch's"): draws both BYOL views'
// parameters with @ediy/augment (the trainer's views of the curve's config, viewParamsOf),
// applies ediy's pipeline (applyAugmentations) to Fashion-MNIST training images read by the
// trainer's loader, stage by stage (crop + resize + flip; + colour jitter; + grayscale;
// + blur; + solarize; + ImageNet normalisation), each stage turning on one more op of the
// drawn parameters, and writes the parameters and every stage's views to --out;
// tools/reference/pixel_ops.py then feeds the same parameters to recipe.py's own `views`
// (its uniform draws replaced by the ones that give these parameters) and compares the
// views stage by stage. npm run build first.
//
//   echo 10 > /proc/self/autogroup; node tools/reference/pixel-ops.mjs --out /tmp/pixel-ops [--n 512]
//   /usr/bin/python3 tools/reference/pixel_ops.py /tmp/pixel-ops
import * as tf from '@tensorflow/tfjs-core';
import { Buffer } from 'node:buffer';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Rng } from '@ediy/core';
import { applyAugmentations, drawAugmentations } from '@ediy/augment';
import { openTrainingData } from '@ediy/data';
import { initBackend } from '@ediy/backend';
import { viewParamsOf } from '@ediy/trainer';

const { values: a } = parseArgs({
  options: {
    out: { type: 'string' },
    data: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
    n: { type: 'string', default: '512' },
    seed: { type: 'string', default: '0' },
  },
});
if (!a.out) {
  console.error('usage: node tools/reference/pixel-ops.mjs --out DIR [--n 512] [--seed 0]');
  process.exit(2);
}
const N = Number(a.n);
if (!Number.isInteger(N) || N < 64 || N % 64 !== 0)
  throw new Error(`--n must be a multiple of 64, got ${a.n}`);
await initBackend();
const config = { scale: { imageSize: 32 } };
const views = viewParamsOf(config);

// the images as the trainer reads them (its loader, batches of 64 of epoch 0)
const data = await openTrainingData({ kind: 'path', path: a.data });
const loader = data.batches({ batchSize: 64, seed: Number(a.seed) });
const parts = [];
const indices = [];
for (let k = 0; k < N / 64; k++) {
  const b = await loader.next();
  parts.push(b.images);
  indices.push(...b.indices);
  b.labels.dispose();
}
await loader.close();
const images = tf.concat(parts);
tf.dispose(parts);

const rng = new Rng(Number(a.seed)).fork('pixel-ops');
const drawn = views.map((p) => drawAugmentations(N, 28, 28, p, rng));
// the stages: each turns on one more op of the drawn parameters
const STAGES = [
  [
    'crop',
    (d) => ({
      ...d,
      jitter: { ...d.jitter, applied: false },
      grayscale: false,
      blurSigma: null,
      solarize: false,
    }),
    false,
  ],
  ['jitter', (d) => ({ ...d, grayscale: false, blurSigma: null, solarize: false }), false],
  ['grayscale', (d) => ({ ...d, blurSigma: null, solarize: false }), false],
  ['blur', (d) => ({ ...d, solarize: false }), false],
  ['solarize', (d) => d, false],
  ['normalize', (d) => d, true],
];
mkdirSync(a.out, { recursive: true });
const meta = {
  n: N,
  indices,
  views: [],
  stages: STAGES.map(([s, , norm]) => ({ name: s, normalized: norm })),
};
views.forEach((params, v) => {
  meta.views.push({ params, draws: drawn[v] });
  for (const [name, edit, norm] of STAGES) {
    const out = applyAugmentations(images, drawn[v].map(edit), {
      ...params,
      normalize: norm ? params.normalize : null,
    });
    writeFileSync(
      join(a.out, `view${v + 1}-${name}.f32`),
      Buffer.from(out.images.dataSync().buffer),
    );
    out.images.dispose();
  }
});
writeFileSync(join(a.out, 'images.f32'), Buffer.from(images.dataSync().buffer));
writeFileSync(join(a.out, 'meta.json'), `${JSON.stringify(meta)}\n`);
images.dispose();
console.error(`pixel-ops: ${N} images, 2 views x ${STAGES.length} stages in ${a.out}`);
