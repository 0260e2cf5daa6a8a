#!/usr/bin/env node
// The random parameters of ediy's two BYOL views beside recipe.py's (PyTorch), no training:
// crop area share of the 28 px source, log aspect ln(w/h), fallback (no try fitted), flip,
// colour jitter applied,
// blur applied and sigma, solarize, per view. Prints a Markdown table (docs/results/curve.md,
// "Views: ediy's against PyTorch's"). npm run build first.
//
//   echo 10 > /proc/self/autogroup; node tools/reference/view-params.mjs [--n 20000] [--seed 0]
//
// ediy's side is @ediy/augment's drawAugmentations (the draws the trainer's byolViews makes)
// with byolViewParams(32, {scaleBlurSigma: true}), the trainer's views without an `augment`
// section (the `solo` recipe's); view 1 and view 2 draw from one stream in turn, a batch of 64
// at a time, as a training step does. A fallback is a box drawn without the crop's two integer
// offsets (sampleCropBox draws them only when a try fits). PyTorch's side is
// tools/reference/view_params.py (recipe.py's own `views`). Intervals are 95%: normal ones
// for means and rates, and for quantiles the order statistics' binomial interval.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Rng } from '@ediy/core';
import { byolViewParams, drawAugmentations } from '@ediy/augment';

const { values: opt } = parseArgs({
  options: { n: { type: 'string', default: '20000' }, seed: { type: 'string', default: '0' } },
});
const N = Number(opt.n);
const SEED = Number(opt.seed);
const SRC = 28;
const SIZE = 32;
const BATCH = 64;

function ediyDraws() {
  const views = byolViewParams(SIZE, { scaleBlurSigma: true });
  const rng = new Rng(SEED).fork('augment');
  // forwards every draw to rng, counting the direct int() calls (sampleCropBox's offsets)
  let ints = 0;
  const counting = new Proxy(rng, {
    get(target, key) {
      const v = target[key];
      if (typeof v !== 'function') return v;
      return key === 'int'
        ? (...a) => {
            ints++;
            return v.apply(target, a);
          }
        : v.bind(target);
    },
  });
  const out = { view1: [], view2: [] };
  while (out.view1.length < N) {
    const b = Math.min(BATCH, N - out.view1.length);
    views.forEach((params, k) => {
      for (let i = 0; i < b; i++) {
        ints = 0;
        const [d] = drawAugmentations(1, SRC, SRC, params, counting);
        out[`view${k + 1}`].push({
          w: d.box.x1 - d.box.x0,
          h: d.box.y1 - d.box.y0,
          flip: d.flipped,
          fallback: ints === 0,
          blur: d.blurSigma,
          solarize: d.solarize,
          jitter: d.jitter.applied,
        });
      }
    });
  }
  return out;
}

function torchDraws() {
  const here = dirname(fileURLToPath(import.meta.url));
  const r = spawnSync(
    '/usr/bin/python3',
    [join(here, 'view_params.py'), '--n', String(N), '--seed', String(SEED)],
    { encoding: 'utf8', maxBuffer: 1 << 28 },
  );
  if (r.status !== 0) throw new Error(`view_params.py failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
function meanCi(xs) {
  const m = mean(xs);
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
  return [m, 1.96 * (sd / Math.sqrt(xs.length))];
}
function quantile(sorted, q) {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (pos - lo);
}
// a quantile's 95% interval: the order statistics at n q -+ 1.96 sqrt(n q (1 - q))
function quantileCi(sorted, q) {
  const n = sorted.length;
  const h = 1.96 * Math.sqrt(n * q * (1 - q));
  const at = (k) => sorted[Math.min(n - 1, Math.max(0, Math.round(k)))];
  return [at(n * q - h), at(n * q + h)];
}
const QS = [0.05, 0.25, 0.5, 0.75, 0.95];

function stats(recs) {
  const area = recs.map((r) => (r.w * r.h) / (SRC * SRC)).sort((a, b) => a - b);
  const logr = recs.map((r) => Math.log(r.w / r.h)).sort((a, b) => a - b);
  const sig = recs
    .filter((r) => r.blur !== null)
    .map((r) => r.blur)
    .sort((a, b) => a - b);
  const rate = (f) => {
    const p = recs.filter(f).length / recs.length;
    return [p, 1.96 * Math.sqrt((p * (1 - p)) / recs.length)];
  };
  const dist = (xs) => ({
    mean: meanCi(xs),
    q: QS.map((q) => [quantile(xs, q), ...quantileCi(xs, q)]),
  });
  return {
    n: recs.length,
    area: dist(area),
    logr: dist(logr),
    sigma: sig.length ? dist(sig) : null,
    fallback: rate((r) => r.fallback),
    flip: rate((r) => r.flip),
    jitter: rate((r) => r.jitter),
    blur: rate((r) => r.blur !== null),
    solarize: rate((r) => r.solarize),
    side: dist(recs.map((r) => Math.sqrt(r.w * r.h)).sort((a, b) => a - b)),
    small: rate((r) => r.w * r.h <= 0.15 * SRC * SRC),
  };
}

const f = (x, d) => x.toFixed(d);
const pm = ([m, h], d) => `${f(m, d)} +- ${f(h, d)}`;
const qrow = (dist, d) => dist.q.map(([v]) => f(v, d)).join(' / ');
const pct = ([p, h]) => `${f(100 * p, 2)} +- ${f(100 * h, 2)}`;

const sides = { ediy: ediyDraws(), PyTorch: torchDraws() };
const S = {};
for (const [who, d] of Object.entries(sides))
  for (const v of ['view1', 'view2']) S[`${who} ${v}`] = stats(d[v]);

const cols = Object.keys(S);
const rows = [
  ['images', (s) => String(s.n)],
  ['area share, mean', (s) => pm(s.area.mean, 4)],
  ['area share, 5/25/50/75/95%', (s) => qrow(s.area, 3)],
  ['crop side sqrt(w h) px, mean', (s) => pm(s.side.mean, 3)],
  ['area share <= 0.15, %', (s) => pct(s.small)],
  ['ln(w/h), mean', (s) => pm(s.logr.mean, 4)],
  ['ln(w/h), 5/25/50/75/95%', (s) => qrow(s.logr, 3)],
  ['fallback, %', (s) => pct(s.fallback)],
  ['flip, %', (s) => pct(s.flip)],
  ['colour jitter, %', (s) => pct(s.jitter)],
  ['blur, %', (s) => pct(s.blur)],
  ['blur sigma px, mean', (s) => (s.sigma ? pm(s.sigma.mean, 4) : '')],
  ['blur sigma px, 5/25/50/75/95%', (s) => (s.sigma ? qrow(s.sigma, 3) : '')],
  ['solarize, %', (s) => pct(s.solarize)],
];
console.log(`| parameter | ${cols.join(' | ')} |`);
console.log(`| --- | ${cols.map(() => '---').join(' | ')} |`);
for (const [name, g] of rows) console.log(`| ${name} | ${cols.map((c) => g(S[c])).join(' | ')} |`);
console.log('\nquantile 95% intervals (area share, ln(w/h)):');
for (const c of cols) {
  const iv = (dist, d) => dist.q.map(([, lo, hi]) => `[${f(lo, d)}, ${f(hi, d)}]`).join(' ');
  console.log(`${c}: area ${iv(S[c].area, 3)}; ln(w/h) ${iv(S[c].logr, 3)}`);
}
