#!/usr/bin/env node
// Evaluates a torchvision ResNet state dict (e.g. tools/reference/recipe.py's
// backbone.safetensors) exactly as `ediy reproduce` evaluates its own runs: the backbone of
// the config's architecture with those weights (BatchNorm with their moving statistics),
// @ediy/eval's `evaluateBackbone` at the budget of the config's preset (`EVAL_SETTINGS` of
// @ediy/cli: at `mini` 10,000 training images as memory and probe set, 10,000 held-out
// images scored), the same sampling seed (0) and the config's seed for the probes. So a
// PyTorch run and an ediy run of one row and seed are scored on the same images by the same
// code, and differ only by their training.
//
//   node tools/reference/eval-torchvision.mjs <config.json | plan job JSON> <backbone.safetensors> <out.json>
//
// Writes { metrics, intervals, memory, test, seconds, cpuSeconds, backend } to out.json.
// Needs the packages built (npm run build).
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { initBackend } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import { importTorchvisionWeights, readSafetensors } from '@ediy/backbones/interop';
import { EVAL_SETTINGS, presetOf } from '@ediy/cli';
import { evaluateBackbone, openEvalData } from '@ediy/eval/node';

if (process.argv.length !== 5) {
  console.error(
    'usage: node tools/reference/eval-torchvision.mjs <config.json> <backbone.safetensors> <out.json>',
  );
  process.exit(2);
}
const [configPath, weightsPath, outPath] = process.argv.slice(2);
const raw = JSON.parse(readFileSync(configPath, 'utf8'));
const config = raw.config ?? raw;
if (!config?.scale?.backbone || !config?.scale?.data || !Number.isInteger(config.seed)) {
  console.error(
    `${configPath}: not an ediy experiment config (needs scale.backbone, scale.data, seed)`,
  );
  process.exit(2);
}
const info = await initBackend();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const model = resnet({ ...config.scale.backbone, name: 'reference_backbone', seed: config.seed });
model.trainable = false;
const report = importTorchvisionWeights(
  model,
  readSafetensors(new Uint8Array(readFileSync(weightsPath)), weightsPath),
);
const settings = EVAL_SETTINGS[presetOf(config)];
const data = await openEvalData(config.scale.data, settings, 0);
const evaluation = await evaluateBackbone(model, data, settings, config.seed);
model.dispose();
const cpu = process.cpuUsage(cpu0);
const result = {
  config: configPath,
  weights: weightsPath,
  loaded: report.loaded.length,
  backend: `${info.name} (${info.engine ?? info.package})`,
  metrics: evaluation.metrics,
  intervals: evaluation.intervals,
  memory: evaluation.memory,
  test: evaluation.test,
  seconds: (performance.now() - t0) / 1000,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  tensorsLeft: tf.memory().numTensors,
};
writeFileSync(outPath, `${JSON.stringify(result, null, 1)}\n`);
const m = evaluation.metrics;
console.error(
  `eval-torchvision: ${weightsPath}: kNN ${(100 * m.knnTop1).toFixed(1)}, linear ${(100 * m.linearTop1).toFixed(1)}, ` +
    `region cosine ${m.meanRegionCosine.toFixed(3)}, effective rank ${m.effectiveRank.toFixed(1)} ` +
    `(${result.seconds.toFixed(0)} s, ${result.cpuSeconds.toFixed(0)} CPU-s)`,
);
