import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '@ediy/cli';
import { writeTruncatedJpeg } from '../../data/test/images.js';
import { captureIO, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

const BACKEND = await pipelineTestBackend();

/** Two classes of 12 small PNGs and one file that is not an image. */
function folder(): string {
  const dir = tempDir('ediy-unreadable-');
  for (const cls of ['a', 'b']) {
    mkdirSync(join(dir, cls));
    for (let i = 0; i < 12; i++) {
      const png = new PNG({ width: 16, height: 16 });
      for (let p = 0; p < png.data.length; p++) png.data[p] = (p * 7 + i * 13 + cls.length) % 256;
      writeFileSync(join(dir, cls, `${i}.png`), PNG.sync.write(png));
    }
  }
  writeFileSync(join(dir, 'b', 'bad.png'), 'not a png');
  return dir;
}

const run = async (argv: string[]) => {
  const io = captureIO();
  const code = await main(argv, io);
  return { code, io };
};

describe('unreadable images at the start of eval and reproduce', () => {
  const data = folder();
  let runDir = '';
  beforeAll(async () => {
    const out = tempDir('ediy-unreadable-runs-');
    const trained = await run([
      ...['pretrain', 'table1/byol', '--preset', 'smoke', '--max-steps', '1'],
      ...['--data', data, '--backend', BACKEND, '--out', out],
    ]);
    expect(trained.code, trained.io.err()).toBe(0);
    runDir = join(out, 'table1-byol', 'seed-0');
  });

  it('ediy eval lists them before evaluating; --strict makes them an error', async () => {
    const strict = await run(['eval', runDir, '--strict', '--backend', BACKEND]);
    expect(strict.code).toBe(2);
    expect(strict.io.err()).toMatch(/ediy eval: --strict: .*1 .*unreadable[\s\S]*bad\.png/);
    expect(strict.io.out()).toBe('');
    const lenient = await run(['eval', runDir, '--backend', BACKEND, '--no-tensorboard']);
    expect(lenient.code, lenient.io.err()).toBe(0);
    expect(lenient.io.err()).toMatch(/ediy: .*1 .*unreadable[\s\S]*bad\.png/);
    expect(lenient.io.out()).toMatch(/^run\tstep/);
  });

  it('ediy eval --untrained and --data check the folder they are given', async () => {
    const other = folder();
    const strict = await run([
      ...['eval', '--untrained', join(runDir, 'config.json'), '--data', other],
      ...['--strict', '--backend', BACKEND],
    ]);
    expect(strict.code).toBe(2);
    expect(strict.io.err()).toContain(
      `--strict: ${other}: 1 of 25 images are unreadable:\n  b/bad.png`,
    );
  });

  it('ediy pretrain --strict also stops on an image that fails to decode while streaming', async () => {
    // headers intact, pixels cut short: the header scan passes, decoding does not
    const cut = folder();
    rmSync(join(cut, 'b', 'bad.png')); // only images whose headers read
    for (let i = 0; i < 12; i++) await writeTruncatedJpeg(join(cut, 'a', `cut${i}.jpg`));
    const train = (extra: string[]) =>
      run([
        ...['pretrain', 'table1/byol', '--preset', 'smoke', '--max-steps', '1', '--data', cut],
        ...['--backend', BACKEND, '--out', tempDir('ediy-cut-runs-'), ...extra],
      ]);
    const strict = await train(['--strict']);
    expect(strict.code).not.toBe(0);
    expect(strict.io.err()).toMatch(
      /cut\d+\.jpg: cannot decode .*strict: unreadable images are errors/,
    );
    const lenient = await train([]);
    expect(lenient.code, lenient.io.err()).toBe(0);
    expect(lenient.io.err()).toMatch(
      /warning: .*cut\d+\.jpg: cannot decode .*the next image is read in its place/,
    );
  });

  it('ediy reproduce --strict stops before training', async () => {
    const out = tempDir('ediy-unreadable-reproduce-');
    const strict = await run([
      ...['reproduce', 'table1', '--preset', 'smoke', '--rows', 'byol', '--data', data],
      ...['--strict', '--backend', BACKEND, '--out', out],
    ]);
    expect(strict.code).toBe(2);
    expect(strict.io.err()).toMatch(/ediy reproduce: --strict: .*1 .*unreadable[\s\S]*bad\.png/);
    expect(strict.io.err()).not.toMatch(/step 1\//);
  });
});
