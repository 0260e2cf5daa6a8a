import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import { exportTorchvisionWeights, writeSafetensors } from '@ediy/backbones/interop';
import { loadModelFromDir, registerFileRouter, saveModelToDir } from '@ediy/backbones/node';
import type { ResNetConfig } from '@ediy/backbones';

let root: string;
const config: ResNetConfig = { depth: 18, stem: 'small', widthMultiplier: 1 / 16, seed: 4 };

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'ediy-backbones-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A model whose BN moving stats are no longer the initial ones. */
function trainedModel(): tfl.LayersModel {
  const model = resnet(config);
  const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 9);
  tf.dispose(model.apply(x, { training: true }) as tf.Tensor[]);
  x.dispose();
  return model;
}

function expectSameWeightsAndOutputs(a: tfl.LayersModel, b: tfl.LayersModel): void {
  expect(b.layers.map((l) => l.name)).toEqual(a.layers.map((l) => l.name));
  const wa = a.getWeights();
  const wb = b.getWeights();
  expect(wb.length).toBe(wa.length);
  wa.forEach((w, i) =>
    expect(Array.from(wb[i]!.dataSync()), a.weights[i]!.originalName).toEqual(
      Array.from(w.dataSync()),
    ),
  );
  const x = tf.randomNormal([1, 12, 12, 3], 0, 1, 'float32', 5);
  const ya = a.predict(x) as tf.Tensor[];
  const yb = b.predict(x) as tf.Tensor[];
  ya.forEach((t, i) => expect(Array.from(yb[i]!.dataSync())).toEqual(Array.from(t.dataSync())));
  tf.dispose([x, ...ya, ...yb]);
}

describe('saveModelToDir / loadModelFromDir', () => {
  it('round-trips the topology, all weights (with BN moving stats) and the outputs', async () => {
    const model = trainedModel();
    const dir = join(root, 'nested', 'm1');
    const result = await saveModelToDir(model, dir);
    expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.generatedBy).toMatch(/^TensorFlow\.js tfjs-layers v/);
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(result.modelArtifactsInfo.weightDataBytes).toBe(
      readFileSync(join(dir, 'weights.bin')).byteLength,
    );
    expect(readdirSync(join(root, 'nested'))).toEqual(['m1']); // no temporary left behind
    const loaded = await loadModelFromDir(dir);
    expectSameWeightsAndOutputs(model, loaded);
    // The torchvision name map survives: a loaded checkpoint exports the same state dict.
    const exported = writeSafetensors(exportTorchvisionWeights(loaded, config));
    expect(
      Buffer.from(exported).equals(
        Buffer.from(writeSafetensors(exportTorchvisionWeights(model, config))),
      ),
    ).toBe(true);
    // Accepts the model.json path too.
    const again = await loadModelFromDir(join(dir, 'model.json'));
    expect(again.countParams()).toBe(model.countParams());
    [model, loaded, again].forEach((m) => m.dispose());
  });

  it('replaces an existing model directory whole, and refuses a directory that is not a model', async () => {
    const dir = join(root, 'm2');
    const first = resnet({ ...config, seed: 1 });
    await saveModelToDir(first, dir);
    writeFileSync(join(dir, 'stale.txt'), 'old');
    const second = resnet({ ...config, seed: 2 });
    await saveModelToDir(second, dir);
    expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    expect(readdirSync(root).filter((f) => f.startsWith('.'))).toEqual([]);
    const loaded = await loadModelFromDir(dir);
    expectSameWeightsAndOutputs(second, loaded);

    const other = join(root, 'not-a-model');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'keep me');
    await expect(saveModelToDir(first, other)).rejects.toThrow(
      /refusing to replace .*not-a-model: it is a non-empty directory without a model\.json/,
    );
    expect(readFileSync(join(other, 'notes.txt'), 'utf8')).toBe('keep me');
    [first, second, loaded].forEach((m) => m.dispose());
  });

  it('names the file and the expectation when model.json is missing or corrupt, or weights are truncated', async () => {
    const model = resnet(config);
    const missing = join(root, 'absent');
    await expect(loadModelFromDir(missing)).rejects.toThrow(
      /absent\/model\.json not found: expected a TF\.js Layers model\.json/,
    );

    const corrupt = join(root, 'corrupt');
    await saveModelToDir(model, corrupt);
    writeFileSync(join(corrupt, 'model.json'), '{"modelTopology": ');
    await expect(loadModelFromDir(corrupt)).rejects.toThrow(
      /corrupt\/model\.json is not valid JSON/,
    );
    writeFileSync(join(corrupt, 'model.json'), '{"format": "layers-model"}');
    await expect(loadModelFromDir(corrupt)).rejects.toThrow(
      /corrupt\/model\.json has no modelTopology/,
    );

    const truncated = join(root, 'truncated');
    await saveModelToDir(model, truncated);
    const size = readFileSync(join(truncated, 'weights.bin')).byteLength;
    truncateSync(join(truncated, 'weights.bin'), size - 4);
    await expect(loadModelFromDir(truncated)).rejects.toThrow(
      new RegExp(
        `truncated/weights\\.bin holds ${size - 4} bytes; \\d+ weights \\(conv1/kernel, .*\\) need ${size} \\(truncated\\)`,
      ),
    );
    rmSync(join(truncated, 'weights.bin'));
    await expect(loadModelFromDir(truncated)).rejects.toThrow(
      /weights file .*truncated\/weights\.bin \(listed in .*model\.json\) not found/,
    );
    model.dispose();
  });
});

describe('file:// router', () => {
  it('makes model.save and tf.loadLayersModel work with file:// URLs', async () => {
    expect(registerFileRouter()).toBe(true);
    expect(registerFileRouter()).toBe(false);
    const model = trainedModel();
    const dir = join(root, 'routed');
    await model.save(`file://${dir}`);
    expect(existsSync(join(dir, 'model.json'))).toBe(true);
    const loaded = await tfl.loadLayersModel(`file://${dir}/model.json`);
    expectSameWeightsAndOutputs(model, loaded);
    model.dispose();
    loaded.dispose();
  });
});
