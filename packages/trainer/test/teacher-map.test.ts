import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import { saveModelToDir } from '@ediy/backbones/node';
import { checkTeacherMap, pretrain, teacherMapSize, type RowConfig } from '@ediy/trainer';
import { smoke, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

const BACKEND = await pipelineTestBackend();
beforeAll(async () => {
  await initBackend({ prefer: BACKEND });
});

const TEACHER_ROW: RowConfig = {
  name: 'ediy-teacher',
  method: {
    byolWeight: 1,
    regionLosses: [{ loss: 'r-dem', weight: 1, matcher: 'teacher' }],
    localPredictor: true,
  },
};

describe("a teacher whose map is one cell at the run's image size", () => {
  it('is an error naming the size, the stride and what works, before any step', async () => {
    // a torchvision-layout ResNet (ImageNet stem, stride 32), as import-weights writes one
    const model = resnet({ depth: 18, stem: 'imagenet', widthMultiplier: 1 / 16, seed: 1 });
    const modelDir = join(tempDir('teacher'), 'model');
    await saveModelToDir(model, modelDir);
    expect(teacherMapSize(model, 16)).toEqual([1, 1]);
    expect(teacherMapSize(model, 33)).toEqual([2, 2]);
    expect(() => checkTeacherMap(model, 33, 'teacher')).not.toThrow();
    expect(() => checkTeacherMap(model, 32, 'teacher')).toThrow(
      "teacher: at scale.imageSize 32 the teacher's layer4 map is 1x1, one region, and the 'teacher' matcher needs at least 2 to pair regions. Its output stride is 32 (the ImageNet stem of a torchvision ResNet): scale.imageSize 33 or more gives a map of at least 2x2 (224: 7x7, the paper's); or use a teacher with the small stem (output stride 8: 32 px gives 4x4)",
    );
    model.dispose();

    const before = tf.memory().numTensors;
    const config = { ...smoke(TEACHER_ROW, 1), teacher: { modelDir } };
    await expect(
      pretrain(config, { runDir: tempDir('teacher-run'), progress: null }),
    ).rejects.toThrow(
      /at scale.imageSize 16 the teacher's layer4 map is 1x1, one region.* output stride is 32/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
