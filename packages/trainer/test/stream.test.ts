import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { latestCheckpoint, pretrain, type ExperimentConfig, type StepRecord } from '@ediy/trainer';
import { writeImage } from '../../data/test/images.js';
import { BYOL_ROW, smoke, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

const BACKEND = await pipelineTestBackend();
const folder = join(tempDir('folder'), 'photos');

/** Three classes of ten textured JPEGs of varying sizes: 24 training and 6 held-out images. */
beforeAll(async () => {
  await initBackend({ prefer: BACKEND });
  for (let k = 0; k < 3; k++) {
    for (let i = 0; i < 10; i++) {
      await writeImage(
        join(folder, `class${k}`, `${i}.jpg`),
        30 + ((i * 7) % 11),
        26 + ((i * 5) % 9),
        (x, y) => [(x * 9 + i * 20) % 256, (y * 7 + k * 80) % 256, ((x ^ y) * 5) % 256],
      );
    }
  }
});

/** BYOL at smoke scale on the folder: 3 steps an epoch, 5 steps, so a resume crosses an epoch. */
function folderConfig(): ExperimentConfig {
  const base = smoke(BYOL_ROW, 5);
  return {
    ...base,
    scale: {
      ...base.scale,
      epochs: 2,
      maxSteps: 5,
      data: { kind: 'path', path: folder, size: 20 },
    },
  };
}

const losses = (records: StepRecord[]) => records.map((r) => [r.loss, r.terms]);
const tensors = (runDir: string) =>
  readFileSync(join(latestCheckpoint(join(runDir, 'checkpoints'))!, 'tensors.safetensors'));
const savedState = (runDir: string) =>
  JSON.parse(
    readFileSync(join(latestCheckpoint(join(runDir, 'checkpoints'))!, 'state.json'), 'utf8'),
  ) as { dataPosition: Record<string, unknown> };

describe('pretrain on an image folder', () => {
  it('streams its training part; stopped and resumed equals an uninterrupted run, bit for bit', async () => {
    const config = folderConfig();
    const wholeDir = tempDir('stream-whole');
    const whole = await pretrain(config, {
      runDir: wholeDir,
      progress: null,
      monitor: { every: 2, images: 6 },
    });
    expect(whole).toMatchObject({ steps: 5, totalSteps: 5, finished: true });
    // 24 training images in batches of 8: the fourth step is the second epoch's first
    expect(whole.records.map((r) => r.epoch)).toEqual([0, 0, 0, 1, 1]);
    // the monitor scores held-out images decoded for it alone
    expect(whole.records.filter((r) => r.monitor).map((r) => r.step)).toEqual([2, 4, 5]);
    for (const r of whole.records) expect(Number.isFinite(r.loss)).toBe(true);

    const splitDir = tempDir('stream-split');
    const first = await pretrain(config, { runDir: splitDir, progress: null, stopAfter: 2 });
    expect(first).toMatchObject({ steps: 2, finished: false });
    // the checkpoint holds the stream's exact position and what identifies its items
    expect(savedState(splitDir).dataPosition).toMatchObject({
      epoch: 0,
      index: 2,
      seed: config.seed,
      size: 24,
      fingerprint: expect.stringMatching(/^[0-9a-f]{8}$/),
    });
    const second = await pretrain(config, { runDir: splitDir, progress: null });
    expect(second.records.map((r) => r.step)).toEqual([3, 4, 5]);
    expect(losses([...first.records, ...second.records])).toEqual(losses(whole.records));
    expect(tensors(splitDir).equals(tensors(wholeDir))).toBe(true);
  });

  it('refuses to resume onto a folder whose images changed', async () => {
    const changing = join(tempDir('folder-changing'), 'photos');
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < 10; i++) {
        await writeImage(join(changing, `class${k}`, `${i}.jpg`), 30, 26, () => [
          k * 90,
          i * 20,
          50,
        ]);
      }
    }
    const base = folderConfig();
    const config = {
      ...base,
      scale: { ...base.scale, data: { kind: 'path', path: changing, size: 20 } },
    } as ExperimentConfig;
    const runDir = tempDir('stream-changed');
    await pretrain(config, { runDir, progress: null, stopAfter: 1 });
    // the same config and as many images, but one file renamed: another folder
    renameSync(join(changing, 'class0', '3.jpg'), join(changing, 'class0', '3b.jpg'));
    await expect(pretrain(config, { runDir, progress: null })).rejects.toThrow(
      /differ from this loader's .*: the folder changed/,
    );
  });
});
