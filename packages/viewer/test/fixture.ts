/**
 * Two tiny run folders made by the trainer itself: a BYOL run, and an E-DIY run whose
 * teacher (config `teacher.run`) is that BYOL run, as Table 1 pairs them. Smoke scale at
 * 32 px views, so layer4 is a 4x4 grid of regions; two optimiser steps each.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { resnet } from '@ediy/backbones';
import { exportBackbone } from '@ediy/backbones/node';
import { initBackend } from '@ediy/backend';
import { syntheticScenes } from '@ediy/data';
import {
  latestCheckpoint,
  loadCheckpoint,
  pretrain,
  resolveExperiment,
  restoreWeights,
  type RowConfig,
} from '@ediy/trainer';
import type { SiteImages } from '@ediy/viewer/node';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

const BYOL: RowConfig = {
  name: 'byol',
  method: { byolWeight: 1, regionLosses: [], localPredictor: true },
};
const EDIY: RowConfig = {
  name: 'ediy',
  method: {
    byolWeight: 1,
    regionLosses: [
      { loss: 'r-dem', weight: 1, matcher: 'teacher' },
      { loss: 'r-iem', weight: 1, matcher: 'teacher' },
    ],
    localPredictor: true,
  },
};

/**
 * Trains both runs into a fresh temporary folder, on the pipeline tests' backend (the
 * native engine, else wasm), then leaves tfjs on the cpu backend, which the page uses too.
 */
export async function trainFixtureRuns(): Promise<{ root: string; byol: string; ediy: string }> {
  await initBackend({ prefer: await pipelineTestBackend() });
  const root = mkdtempSync(join(tmpdir(), 'ediy-viewer-'));
  const scale = { maxSteps: 2, epochs: 1, imageSize: 32 };
  const byol = join(root, 'table1-byol', 'seed-0');
  const ediy = join(root, 'table1-ediy', 'seed-0');
  await pretrain(resolveExperiment(BYOL, { preset: 'smoke', seed: 0, scale }), {
    runDir: byol,
    progress: null,
  });
  await pretrain(
    // another seed than the teacher's, so the two backbones pair regions differently
    resolveExperiment(EDIY, { preset: 'smoke', seed: 1, scale, teacher: { run: byol } }),
    { runDir: ediy, progress: null },
  );
  await initBackend({ prefer: 'cpu' });
  return { root, byol, ediy };
}

/** `count` held-out-style scenes (a seed the runs did not train on), as the site takes them. */
export function fixtureImages(count = 4, size = 40): SiteImages {
  const data = syntheticScenes({ count, size, numClasses: 3, seed: 99 });
  const batch = data.get(Array.from({ length: count }, (_, i) => i));
  return {
    data: batch.images,
    shape: [count, size, size, 3],
    labels: batch.labels,
    source: 'synthetic scenes (seed 99)',
  };
}

/** A run's online backbone at its newest checkpoint, through the trainer's own reader. */
export function runBackbone(runDir: string, name: string): LayersModel {
  const ckpt = loadCheckpoint(latestCheckpoint(join(runDir, 'checkpoints')) as string);
  const model = resnet({ ...ckpt.state.config.scale.backbone, name, seed: 0 });
  restoreWeights(model, ckpt.weights['online.backbone'], 'online.backbone');
  tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);
  return model;
}

/**
 * Both runs' backbones as `ediy export` writes them: BYOL's as a TF.js Layers directory
 * and as a torchvision safetensors file, E-DIY's as both too, under `root/models`.
 */
export async function exportFixtureModels(runs: {
  root: string;
  byol: string;
  ediy: string;
}): Promise<{ byolTfjs: string; byolTorch: string; ediyTfjs: string; ediyTorch: string }> {
  const out = join(runs.root, 'models');
  const paths = {
    byolTfjs: join(out, 'byol-r18'),
    byolTorch: join(out, 'byol-r18.safetensors'),
    ediyTfjs: join(out, 'ediy-r18'),
    ediyTorch: join(out, 'ediy-r18.safetensors'),
  };
  for (const [run, tfjs, torch] of [
    [runs.byol, paths.byolTfjs, paths.byolTorch],
    [runs.ediy, paths.ediyTfjs, paths.ediyTorch],
  ] as const) {
    const model = runBackbone(run, `export_${Math.random().toString(36).slice(2)}`);
    const config = loadCheckpoint(latestCheckpoint(join(run, 'checkpoints')) as string);
    tf.dispose([...Object.values(config.weights).flat(), ...config.optimizer.map((o) => o.tensor)]);
    await exportBackbone(model, config.state.config.scale.backbone, { format: 'tfjs', out: tfjs });
    await exportBackbone(model, config.state.config.scale.backbone, {
      format: 'torchvision',
      out: torch,
    });
    model.dispose();
  }
  return paths;
}
