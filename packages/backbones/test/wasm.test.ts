import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import { importTorchvisionWeights } from '@ediy/backbones/interop';
import { fixtureState, get, nchwToNhwc, relativeError } from './helpers.js';

beforeAll(async () => {
  const info = await initBackend({ prefer: 'wasm' });
  expect(info.name).toBe('wasm');
});

it('runs the imported ResNet-50 fixture on wasm within 1e-4 relative of PyTorch', () => {
  expect(tf.getBackend()).toBe('wasm');
  const model = resnet({ depth: 50, stem: 'imagenet', widthMultiplier: 4 / 64 });
  importTorchvisionWeights(model, fixtureState('resnet50-imagenet-w4.safetensors'));
  const io = fixtureState('resnet50-imagenet-w4.io.safetensors');
  const x = nchwToNhwc(get(io, 'input'));
  const want = nchwToNhwc(get(io, 'layer4'));
  const before = tf.memory().numTensors;
  const [map, pooled] = model.predict(x) as tf.Tensor[];
  expect(relativeError(map!.dataSync(), want.dataSync())).toBeLessThan(1e-4);
  expect(relativeError(pooled!.dataSync(), get(io, 'pooled').data as Float32Array)).toBeLessThan(
    1e-4,
  );
  tf.dispose([map!, pooled!]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, want]);
  model.dispose();
});
