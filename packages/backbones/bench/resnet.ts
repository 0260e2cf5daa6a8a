/**
 * Figures for @ediy/backbones: model build time, forward time on wasm and cpu, safetensors
 * throughput, and the agreement with PyTorch on the committed fixtures.
 * Run: npm run bench -w packages/backbones
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@ediy/backend';
import {
  exportTorchvisionWeights,
  importTorchvisionWeights,
  readSafetensors,
  resnet,
  writeSafetensors,
} from '../src/index.js';
import type { ResNetConfig } from '../src/index.js';

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const out = f();
  return [out, performance.now() - t0];
}

function forwardMs(
  config: ResNetConfig,
  shape: [number, number, number, number],
  reps: number,
): number {
  const model = resnet(config);
  const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
  const run = (): void => {
    const ys = model.predict(x) as tf.Tensor[];
    ys[0]!.dataSync();
    tf.dispose(ys);
  };
  run();
  const [, ms] = time(() => {
    for (let i = 0; i < reps; i++) run();
  });
  x.dispose();
  model.dispose();
  return ms / reps;
}

function fixtureError(name: string, config: ResNetConfig): number {
  const dir = fileURLToPath(new URL('../test/fixtures/', import.meta.url));
  const state = readSafetensors(new Uint8Array(readFileSync(`${dir}${name}.safetensors`)));
  const io = readSafetensors(new Uint8Array(readFileSync(`${dir}${name}.io.safetensors`)));
  const model = resnet(config);
  importTorchvisionWeights(model, state);
  const input = io.get('input')!;
  const want = io.get('layer4')!;
  const x = tf.transpose(tf.tensor(input.data as Float32Array, input.shape), [0, 2, 3, 1]);
  const w = tf.transpose(tf.tensor(want.data as Float32Array, want.shape), [0, 2, 3, 1]);
  const [map, pooled] = model.predict(x) as tf.Tensor[];
  const err = tf.tidy(
    () => tf.max(tf.abs(tf.sub(map!, w))).dataSync()[0]! / tf.max(tf.abs(w)).dataSync()[0]!,
  );
  tf.dispose([x, w, map!, pooled!]);
  model.dispose();
  return err;
}

const fixtures: [string, ResNetConfig][] = [
  ['resnet50-imagenet-w4', { depth: 50, stem: 'imagenet', widthMultiplier: 4 / 64 }],
  ['resnet18-small-w4', { depth: 18, stem: 'small', widthMultiplier: 4 / 64 }],
];

for (const backend of ['wasm', 'cpu'] as const) {
  await initBackend({ prefer: backend });
  console.log(`\n== ${backend}`);
  for (const [name, config] of fixtures) {
    console.log(
      `fixture ${name}: max|tfjs - torch| / max|torch| = ${fixtureError(name, config).toExponential(2)}`,
    );
  }
  const mini: ResNetConfig = { depth: 18, stem: 'small', widthMultiplier: 1 / 4 };
  const batch = backend === 'wasm' ? 32 : 8;
  console.log(
    `ResNet-18 small stem x1/4, batch ${batch} at 32x32: ${forwardMs(mini, [batch, 32, 32, 3], backend === 'wasm' ? 3 : 1).toFixed(0)} ms/forward`,
  );
  if (backend === 'wasm') {
    const r50: ResNetConfig = { depth: 50, stem: 'imagenet' };
    console.log(
      `ResNet-50 imagenet stem x1, batch 1 at 224x224: ${forwardMs(r50, [1, 224, 224, 3], 2).toFixed(0)} ms/forward`,
    );
  }
}

await initBackend({ prefer: 'cpu' });
for (const depth of [18, 34, 50] as const) {
  const [model, ms] = time(() => resnet({ depth, stem: 'imagenet' }));
  console.log(`build ResNet-${depth} (x1): ${ms.toFixed(0)} ms`);
  if (depth === 50) {
    const config: ResNetConfig = { depth, stem: 'imagenet' };
    const [state, exportMs] = time(() => exportTorchvisionWeights(model, config));
    const [bytes, writeMs] = time(() => writeSafetensors(state));
    const [back, readMs] = time(() => readSafetensors(bytes));
    const [, importMs] = time(() => importTorchvisionWeights(model, back));
    const mb = bytes.byteLength / 2 ** 20;
    console.log(
      `ResNet-50 state dict ${mb.toFixed(1)} MiB: export ${exportMs.toFixed(0)} ms, write ${writeMs.toFixed(0)} ms, read ${readMs.toFixed(0)} ms, import ${importMs.toFixed(0)} ms`,
    );
  }
  model.dispose();
}
