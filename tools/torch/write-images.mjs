#!/usr/bin/env node
// Writes the training images of an ediy experiment config as safetensors for the PyTorch
// trainer (tools/torch/ediy_train.py): one F32 tensor `images` [N, H, W, 3] in [0, 1], the
// very images `ediy pretrain` trains on (the embedded scenes, or any path @ediy/data reads).
// Usage: node tools/torch/write-images.mjs <config.json | plan.json --job <id>> <out.safetensors>
// Needs the packages built (npm run build).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeSafetensors } from '@ediy/backbones/interop';
import { openDataset } from '@ediy/trainer';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { job: { type: 'string' } },
});
if (positionals.length !== 2) {
  console.error(
    'usage: node tools/torch/write-images.mjs <config.json | plan.json --job <id>> <out.safetensors>',
  );
  process.exit(2);
}
const [configPath, outPath] = positionals;
const raw = JSON.parse(readFileSync(configPath, 'utf8'));
let config = raw.config ?? raw;
if (Array.isArray(raw.jobs)) {
  const jobs = [...(raw.teacher ? [raw.teacher] : []), ...raw.jobs];
  const job = jobs.find((j) => j.id === values.job);
  if (!job) {
    console.error(
      `${configPath} is a plan: pass --job with one of ${jobs.map((j) => j.id).join(', ')}`,
    );
    process.exit(2);
  }
  config = job.config;
}
if (!config?.scale?.data) {
  console.error(`${configPath} holds no ediy experiment config (no scale.data)`);
  process.exit(2);
}
const dataset = await openDataset(config.scale.data, 'train');
const [h, w, c] = dataset.imageShape;
const { images } = dataset.get(Array.from({ length: dataset.size }, (_, i) => i));
writeFileSync(
  outPath,
  writeSafetensors(
    { images: { dtype: 'F32', shape: [dataset.size, h, w, c], data: images } },
    { dataset: dataset.name, config: config.name },
  ),
);
console.error(`${outPath}: ${dataset.size} images of ${h}x${w}x${c} from ${dataset.name}`);
