import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import {
  FastBatchNormalization,
  batchNormalizationLayer,
  isBatchNormalization,
} from '@ediy/backbones';
import { buildOnline, buildTarget, disposeModels, useFastBatchNorm } from '@ediy/trainer';
import { onlineModules } from '@ediy/trainer/internal';
import { EDIY_RANDOM_ROW, smoke } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

beforeAll(async () => {
  await initBackend({ prefer: await pipelineTestBackend() });
});

function bnModel(kind: 'tfjs' | 'fast'): tfl.LayersModel {
  const input = tfl.input({ shape: [3, 3, 4] });
  const out = batchNormalizationLayer(kind, { momentum: 0.9, epsilon: 1e-5, name: 'bn' }).apply(
    input,
  ) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  model.setWeights([
    tf.randomUniform([4], 0.5, 1.5, 'float32', 1),
    tf.randomUniform([4], -0.5, 0.5, 'float32', 2),
    tf.randomUniform([4], -0.2, 0.2, 'float32', 3),
    tf.randomUniform([4], 0.5, 2, 'float32', 4),
  ]);
  return model;
}

describe('the networks the trainer builds', () => {
  it('have FastBatchNormalization layers only, in every module of online and target', () => {
    const config = smoke(EDIY_RANDOM_ROW, 1);
    const online = buildOnline(config);
    const target = buildTarget(config, online);
    const modules = [...onlineModules(online), ...Object.values(target)];
    for (const m of modules) {
      const bn = m.layers.filter(isBatchNormalization);
      expect(bn.length, m.name).toBeGreaterThan(0);
      for (const l of bn) expect(l, `${m.name} ${l.name}`).toBeInstanceOf(FastBatchNormalization);
    }
    disposeModels(modules);
  });
});

describe('useFastBatchNorm (deprecated)', () => {
  it('makes a tfjs BatchNormalization compute as FastBatchNormalization, once', () => {
    const patched = bnModel('tfjs');
    const fast = bnModel('fast');
    expect(useFastBatchNorm(patched)).toBe(1);
    expect(useFastBatchNorm(patched)).toBe(0);
    const x = tf.randomNormal([2, 3, 3, 4], 0.3, 1.5, 'float32', 7);
    for (const training of [true, false]) {
      const a = patched.apply(x, { training }) as tf.Tensor;
      const b = fast.apply(x, { training }) as tf.Tensor;
      expect(Array.from(a.dataSync()), `training ${training}`).toEqual(Array.from(b.dataSync()));
      tf.dispose([a, b]);
    }
    patched
      .getWeights()
      .forEach((w, i) =>
        expect(Array.from(w.dataSync())).toEqual(Array.from(fast.getWeights()[i]!.dataSync())),
      );
    x.dispose();
    patched.dispose();
    fast.dispose();
  });
});
