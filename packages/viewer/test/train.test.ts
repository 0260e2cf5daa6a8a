/**
 * The page's E-DIY steps, in Node on the cpu backend: a few steps on a fixed batch lower
 * Eq. 3, a zero learning rate does not, bad input is refused, and no tensor is left behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { resnet } from '@ediy/backbones';
import { initBackend } from '@ediy/backend';
import { PageTrainer } from '@ediy/viewer';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';
import { fixtureImages } from './fixture.js';

const BACKBONE = { depth: 18, stem: 'small', widthMultiplier: 1 / 16 } as const;

beforeAll(async () => {
  await initBackend({ prefer: await pipelineTestBackend() });
});

function batch(): tf.Tensor4D {
  const images = fixtureImages(4, 40);
  return tf.tensor4d(images.data, [...images.shape]);
}

async function train(steps: number, learningRate: number) {
  const images = batch();
  const teacher = resnet({ ...BACKBONE, name: `teacher_${learningRate}`, seed: 9 });
  // the page starts from a run's backbone, loaded frozen (its getWeights() order differs)
  const start = resnet({ ...BACKBONE, name: `start_${learningRate}`, seed: 3 });
  start.trainable = false;
  teacher.trainable = false;
  const trainer = new PageTrainer({
    backbone: BACKBONE,
    initFrom: start,
    teacher,
    imageSize: 32,
    learningRate,
  });
  const losses = [];
  for (let k = 0; k < steps; k++) losses.push(await trainer.stepOn(images));
  trainer.dispose();
  teacher.dispose();
  start.dispose();
  images.dispose();
  return losses;
}

it('lowers the loss over a few steps on a fixed batch, and leaves no tensor behind', async () => {
  const before = tf.memory().numTensors;
  const steps = await train(5, 0.5);
  expect(tf.memory().numTensors).toBe(before);
  const loss = steps.map((s) => s.loss);
  console.log('page trainer losses (lr 0.5):', loss.map((l) => l.toFixed(4)).join(' '));
  for (const s of steps) {
    expect(Number.isFinite(s.loss)).toBe(true);
    expect(s.loss).toBeCloseTo(s.terms.byol + s.terms['r-dem'] + s.terms['r-iem'], 4);
  }
  // step k draws the same views at any learning rate: with none, the loss at step k is
  // that of the starting networks on those views
  const still = (await train(5, 0)).map((s) => s.loss);
  console.log('page trainer losses (lr 0):  ', still.map((l) => l.toFixed(4)).join(' '));
  expect(still[0]).toBeCloseTo(loss[0]!, 5);
  expect(loss.at(-1)!).toBeLessThan(still.at(-1)! - 0.05);
  expect(loss.at(-1)!).toBeLessThan(loss[0]!);
});

it('refuses a batch of one image and a negative learning rate, naming the value', async () => {
  expect(() => new PageTrainer({ backbone: BACKBONE, imageSize: 32, learningRate: -1 })).toThrow(
    /learningRate.*-1/,
  );
  const trainer = new PageTrainer({ backbone: BACKBONE, imageSize: 32 });
  const one = tf.zeros([1, 40, 40, 3]) as tf.Tensor4D;
  await expect(trainer.stepOn(one)).rejects.toThrow(/\[1,40,40,3\]/);
  one.dispose();
  trainer.dispose();
});
