import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { main } from '@ediy/cli';
import { splitImageFolder } from '@ediy/data';
import { captureIO, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

const BACKEND = await pipelineTestBackend();

/** Three classes of ten textured JPEGs of varying sizes: a user's own folder. */
async function photos(): Promise<string> {
  const dir = join(tempDir('ediy-photos-'), 'photos');
  for (let k = 0; k < 3; k++) {
    mkdirSync(join(dir, `class${k}`), { recursive: true });
    for (let i = 0; i < 10; i++) {
      const [w, h] = [90 + ((i * 7) % 30), 80 + ((i * 5) % 20)];
      const pixels = Buffer.alloc(w * h * 3);
      for (let p = 0; p < pixels.length; p++) pixels[p] = (p * (k + 3) + i * 29) % 256;
      await sharp(pixels, { raw: { width: w, height: h, channels: 3 } })
        .jpeg()
        .toFile(join(dir, `class${k}`, `${i}.jpg`));
    }
  }
  return dir;
}

describe('a standard-width ResNet-18 at 64 px on a folder, from a YAML file and two flags', () => {
  it('streams the training part, and is evaluated on the held-out part it never trained on', async () => {
    const data = await photos();
    const work = tempDir('ediy-yaml-');
    const yaml = join(work, 'photos.yaml');
    writeFileSync(
      yaml,
      [
        'base: table1/byol',
        'preset: smoke',
        'name: photos-r18',
        'scale:',
        '  backbone: { depth: 18, stem: imagenet, widthMultiplier: 1 }',
        '  imageSize: 64',
        '  batchSize: 8',
        `  data: { kind: path, path: ${data}, size: 72 }`,
        'augment:',
        '  view2: { solarizeProb: 0.3 }',
        '',
      ].join('\n'),
    );
    const out = join(work, 'runs');
    const io = captureIO();
    const code = await main(
      ['pretrain', yaml, '--epochs', '1', '--out', out, '--backend', BACKEND],
      io,
    );
    expect(code, io.err()).toBe(0);
    const runDir = join(out, 'photos-r18', 'seed-0');
    // the estimate comes before the first step
    expect(io.err()).toMatch(/memory estimate [\d.]+ MB for a micro-batch of 8[\s\S]*step 1\//);
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
    expect(config.scale.backbone).toEqual({ depth: 18, stem: 'imagenet', widthMultiplier: 1 });
    expect(config.augment).toEqual({ view2: { solarizeProb: 0.3 } });
    // 24 training images (6 held out), batches of 8: one epoch is 3 steps
    expect(io.out()).toMatch(/steps 3\/3/);
    const ckpt = JSON.parse(
      readFileSync(join(runDir, 'checkpoints', 'step-00000003', 'state.json'), 'utf8'),
    ) as { dataPosition: { size: number; fingerprint: string } };
    expect(ckpt.dataPosition).toMatchObject({ epoch: 1, index: 0, size: 24 });
    expect(ckpt.dataPosition.fingerprint).toMatch(/^[0-9a-f]{8}$/);

    const evalIO = captureIO();
    expect(await main(['eval', runDir, '--backend', BACKEND], evalIO), evalIO.err()).toBe(0);
    const evaluation = JSON.parse(readFileSync(join(runDir, 'eval.json'), 'utf8'));
    expect(evaluation.heldOut).toBe('split');
    const splits = await splitImageFolder(data);
    expect(splits.heldOut.items).toHaveLength(6);
    expect(evaluation.test).toBe(6); // every held-out image scored, none of them trained on
    const train = new Set(splits.train.items.map((i) => i.path));
    expect(splits.heldOut.items.some((i) => train.has(i.path))).toBe(false);
    expect(evaluation.timings.features).toBeGreaterThan(0);
    // progress and the time it took, on standard error; a phase's first line has no rate yet
    expect(evalIO.err()).toMatch(/features of 6\/6 held-out images scored \(\d+ s\)/);
    expect(evalIO.err()).toMatch(/evaluated in [\d.]+ s \(open [\d.]+ s, features [\d.]+ s, kNN/);
  }, 300_000); // a pre-training and an evaluation, each with decode threads
});
