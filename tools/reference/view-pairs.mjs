#!/usr/bin/env node
// The joint distribution of the two BYOL views of one image over a whole run, without
// training (docs/results/curve.md, "Why ediy's kNN trails PyTorch's"): each step's augment
// stream derived as the trainer derives it (new Rng(seed).fork('train'), then
// fork('step-' + k), fork('micro-0'), fork('augment'): pretrain.ts, update.ts, step.ts; one
// thread, accumulate 1), both views drawn from it in turn (byolViews), and the crop-box IoU,
// flip agreement and draw correlations of view 1 and view 2 of the same image, against view 2
// of the next image of the batch (the independence baseline) and recipe.py's own pairs
// (tools/reference/view_params.py). tools/reference/view-joint.mjs checks these streams
// against the real step's. npm run build first.
//
//   echo 10 > /proc/self/autogroup; node tools/reference/view-pairs.mjs [--steps 1500] [--torch-n 20000]
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '@ediy/core';
import { drawAugmentations } from '@ediy/augment';
import { viewParamsOf } from '@ediy/trainer';
import { ci, corr, iou, quantile } from './pair-stats.mjs';

const { values: a } = parseArgs({
  options: {
    steps: { type: 'string', default: '1500' },
    seed: { type: 'string', default: '0' },
    'torch-n': { type: 'string', default: '20000' },
  },
});
const views = viewParamsOf({ scale: { imageSize: 32 } });
const root = new Rng(Number(a.seed)).fork('train');
const pairs = [];
const firsts = new Set();
for (let k = 0; k < Number(a.steps); k++) {
  const rng = root.fork(`step-${k}`).fork('micro-0').fork('augment');
  firsts.add(JSON.stringify(rng.state()));
  const d1 = drawAugmentations(64, 28, 28, views[0], rng);
  const d2 = drawAugmentations(64, 28, 28, views[1], rng);
  for (let i = 0; i < 64; i++) pairs.push({ a: d1[i], b: d2[i], other: d2[(i + 1) % 64] });
}
const fmtCi = (xs) => {
  const [m, h] = ci(xs);
  return `${m.toFixed(4)} +- ${h.toFixed(4)}`;
};
const quart = (xs) =>
  [0.05, 0.25, 0.5, 0.75, 0.95].map((p) => quantile(xs, p).toFixed(3)).join(' / ');
const row = (name, list, pick) => {
  const b = list.map(pick);
  const ious = list.map((p, i) => iou(p.a.box, b[i].box));
  const r = (f) =>
    corr(
      list.map((p) => +f(p.a)),
      b.map((x) => +f(x)),
    ).toFixed(4);
  const bFirst = (d) => d.jitter.order.indexOf('brightness') < d.jitter.order.indexOf('contrast');
  console.log(
    `| ${name} | ${list.length} | ${fmtCi(ious)} | ${quart(ious)} | ${fmtCi(ious.map((x) => +(x === 1)))} | ${fmtCi(list.map((p, i) => +(p.a.flipped === b[i].flipped)))} | ` +
      `${r((d) => (d.box.x1 - d.box.x0) * (d.box.y1 - d.box.y0))} | ${r((d) => d.box.x0)} | ${r((d) => d.flipped)} | ${r((d) => d.jitter.brightness)} | ${r((d) => d.jitter.contrast)} | ${r(bFirst)} |`,
  );
};
console.log(
  '| pairs | n | IoU mean | IoU 5/25/50/75/95% | same box | flips agree | corr area | corr x0 | corr flip | corr brightness | corr contrast | corr order |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
row('ediy: view 1 and view 2 of one image', pairs, (p) => p.b);
row('ediy: view 1 and view 2 of the next image', pairs, (p) => p.other);
const here = dirname(fileURLToPath(import.meta.url));
const t = spawnSync(
  '/usr/bin/python3',
  [join(here, 'view_params.py'), '--n', a['torch-n'], '--seed', a.seed],
  { encoding: 'utf8', maxBuffer: 1 << 28 },
);
if (t.status !== 0) throw new Error(`view_params.py failed (${t.status}): ${t.stderr}`);
const tp = JSON.parse(t.stdout);
const tdraw = (r) => ({
  box: { x0: r.left, y0: r.top, x1: r.left + r.w, y1: r.top + r.h },
  flipped: r.flip,
  jitter: { brightness: NaN, contrast: NaN, order: [] },
});
const tpairs = tp.view1.map((r, i) => ({ a: tdraw(r), b: tdraw(tp.view2[i]) }));
row('recipe.py: view 1 and view 2 of one image', tpairs, (p) => p.b);
console.log(`\n${firsts.size} distinct augment streams in ${a.steps} steps`);
