import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { runPaths } from '@ediy/core/node';
import { regionLossNames } from '@ediy/losses';
import { matcherNames } from '@ediy/matchers';
import { resolveExperiment, type ExperimentConfig } from '@ediy/trainer';
import {
  COMMANDS,
  commandHelp,
  describeData,
  loadConfig,
  main,
  overridesOf,
  parseCommandArgs,
  UsageError,
} from '@ediy/cli';
import { captureIO, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

const BACKEND = await pipelineTestBackend();
const PRETRAIN = COMMANDS.find((c) => c.spec.name === 'pretrain')!.spec;
const parse = (argv: string[]) => parseCommandArgs(PRETRAIN, ['table1/byol', ...argv]);

describe('override flags', () => {
  it('each sets its field, in a fixed order, then every --set in the order given', () => {
    const args = parse([
      ...['--arch', 'resnet50', '--width', '0.25', '--image-size', '64', '--batch', '256'],
      ...['--accumulate', '4', '--epochs', '100', '--lr', '1.0', '--wd', '1e-5'],
      ...['--tau0', '0.99', '--max-steps', '50'],
      ...['--set', 'scale.batchSize=128', '--set', 'optim.warmupFraction=0.1'],
      ...['--set', 'scale.data={kind: path, path: photos}'],
    ]);
    const overrides = overridesOf(args, 'pretrain');
    expect(overrides.map((o) => o.source)).toEqual([
      '--arch resnet50',
      '--width 0.25',
      '--image-size 64',
      '--batch 256',
      '--accumulate 4',
      '--epochs 100',
      '--max-steps 50',
      '--lr 1.0',
      '--wd 1e-5',
      '--tau0 0.99',
      '--set scale.batchSize=128',
      '--set optim.warmupFraction=0.1',
      '--set scale.data={kind: path, path: photos}',
    ]);
    const config = resolveExperiment(
      { name: 'x', method: { byolWeight: 1, regionLosses: [], localPredictor: true } },
      { preset: 'mini', layers: overrides },
    );
    expect(config.scale).toMatchObject({
      backbone: { depth: 50, stem: 'small', widthMultiplier: 0.25 },
      imageSize: 64,
      batchSize: 128, // --set comes after --batch
      accumulate: 4,
      epochs: 100,
      maxSteps: 50,
      data: { kind: 'path', path: 'photos' },
    });
    expect(config.optim).toMatchObject({
      baseLr: 1,
      weightDecay: 1e-5,
      tau0: 0.99,
      warmupFraction: 0.1,
    });
  });

  it('name the flag and the value that is not a number or a choice', () => {
    expect(() => overridesOf(parse(['--batch', '2.5']), 'pretrain')).toThrow(
      'ediy pretrain: --batch must be an integer; got "2.5"',
    );
    expect(() => overridesOf(parse(['--lr', 'fast']), 'pretrain')).toThrow(
      'ediy pretrain: --lr must be a number; got "fast"',
    );
    expect(() => overridesOf(parse(['--arch', 'vit']), 'pretrain')).toThrow(
      'ediy pretrain: --arch must be one of resnet18, resnet34, resnet50; got "vit"',
    );
    expect(() => overridesOf(parse(['--set', 'batchSize']), 'pretrain')).toThrow(UsageError);
    expect(() => overridesOf(parse(['--set', 'scale.batchSize={']), 'pretrain')).toThrow(
      /--set scale.batchSize: the value "\{" is not valid YAML/,
    );
  });

  it('are in the help text, --max-steps saying what it means', () => {
    const help = commandHelp(PRETRAIN);
    expect(help).toMatch(/--set <path=value> \.\.\./);
    expect(help).toMatch(
      /--max-steps <n>\s+a shorter run of at most n optimiser steps: the whole schedule/,
    );
    for (const flag of [
      'arch',
      'width',
      'image-size',
      'batch',
      'accumulate',
      'epochs',
      'lr',
      'wd',
      'tau0',
    ])
      expect(help).toContain(`--${flag} <`);
  });
});

describe('ediy pretrain <config file> [flags]', () => {
  it('trains row < preset < file < flags, prints the resolved config and writes it to config.json', async () => {
    const dir = tempDir('ediy-config-run-');
    const file = join(dir, 'run.yaml');
    writeFileSync(
      file,
      'base: table1/byol\npreset: mini\nname: my-byol\nscale:\n  imageSize: 24\n  batchSize: 16\noptim: { baseLr: 0.5 }\n',
    );
    const io = captureIO();
    const code = await main(
      [
        'pretrain',
        file,
        '--preset',
        'smoke',
        '--batch',
        '4',
        '--set',
        'scale.maxSteps=1',
        '--backend',
        BACKEND,
        '--out',
        join(dir, 'runs'),
      ],
      io,
    );
    expect(code, io.err()).toBe(0);
    const runDir = join(dir, 'runs', 'my-byol', 'seed-0');
    const saved = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as ExperimentConfig;
    expect(saved.scale.backbone.widthMultiplier).toBe(1 / 16); // --preset smoke over the file's mini
    expect(saved.scale.imageSize).toBe(24); // the file over the preset
    expect(saved.scale.batchSize).toBe(4); // the flag over the file
    expect(saved.scale.maxSteps).toBe(1);
    expect(saved.optim.baseLr).toBe(0.5);
    expect(saved.paper?.label).toBe('BYOL'); // from the base row
    expect(io.err()).toContain(
      `ediy: pretrain row table1-byol < preset smoke < ${file} < --batch 4, --set scale.maxSteps=1 (seed 0)`,
    );
    expect(io.err()).toMatch(/resolved config .*\n {2}name: my-byol\n {2}seed: 0\n/);
    expect(io.err()).toMatch(/\n {4}batchSize: 4\n/);
    expect(io.out()).toContain(`${runDir}\tsteps 1/1`);
  });

  it('stops before training on a bad or unknown field, naming where it came from', async () => {
    const dir = tempDir('ediy-config-bad-');
    const run = (argv: string[]) => {
      const io = captureIO();
      return main(['pretrain', 'table1/byol', '--preset', 'smoke', '--out', dir, ...argv], io).then(
        (code) => ({ code, err: io.err() }),
      );
    };
    const batch = await run(['--batch', '1']);
    expect(batch.code).toBe(2);
    expect(batch.err).toContain('--batch 1: scale.batchSize must be an integer >= 2, got 1');
    const unknown = await run(['--set', 'scale.batchsize=8']);
    expect(unknown.err).toContain(
      '--set scale.batchsize=8: scale has an unknown field "batchsize"; expected only fields backbone',
    );
  });
});

describe('ediy list', () => {
  it('prints rows, presets, registered losses and matchers, and backends', async () => {
    const io = captureIO();
    expect(await main(['list'], io)).toBe(0);
    const out = io.out();
    expect(out).toMatch(/^Rows .*\n {2}table1\/byol\s+Table 1 row 1: BYOL\n/);
    expect(out).toMatch(/\n {2}comparisons\/ediy\s+/);
    expect(out).toMatch(
      /\n {2}smoke\s+ResNet-18 \(small stem, width x0.0625\), 16 px, batch 8 x 1, 1 epoch, at most 3 steps, base LR 0.2, warm-up 3.3% of the steps, tau0 0.996, 32 synthetic scenes of 20 px\n/,
    );
    expect(out).toMatch(
      /\n {2}paper\s+ResNet-50 \(imagenet stem, width x1\), 224 px, batch 2048 x 2, 300 epochs, .*warm-up 10 epochs/,
    );
    expect(out).toContain(
      `Region losses (method.regionLosses[].loss):\n  ${regionLossNames().join(', ')}\n`,
    );
    expect(regionLossNames()).toContain('r-dem');
    expect(out).toContain(
      `Matchers (method.regionLosses[].matcher):\n  ${matcherNames().join(', ')}\n`,
    );
    expect(matcherNames()).toContain('teacher');
    expect(out).toContain('Backends (--backend):\n  auto, webgpu, tensorflow, native, wasm, cpu\n');
    const one = captureIO();
    expect(await main(['list', 'matchers'], one)).toBe(0);
    expect(one.out()).toBe(
      `Matchers (method.regionLosses[].matcher):\n  ${matcherNames().join(', ')}\n`,
    );
    expect(await main(['list', 'nope'], captureIO())).toBe(2);
  });
});

describe('docs/getting-started.md', () => {
  it('its config file and two flags resolve to what the text says', async () => {
    const doc = readFileSync(
      fileURLToPath(new URL('../../../docs/getting-started.md', import.meta.url)),
      'utf8',
    );
    const section = doc.slice(doc.indexOf('## Your own experiment'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    const command = /```sh\nnpx ediy pretrain my-run\.yaml (.*)\n```/.exec(section)?.[1];
    expect(yaml).toBeDefined();
    expect(command).toBeDefined();
    const dir = tempDir('ediy-doc-config-');
    writeFileSync(join(dir, 'my-run.yaml'), yaml!);
    const loaded = await loadConfig(join(dir, 'my-run.yaml'));
    const flags = command!.split(' ');
    expect(flags.filter((f) => f.startsWith('--'))).toHaveLength(2);
    const overrides = overridesOf(
      parseCommandArgs(PRETRAIN, ['my-run.yaml', ...flags]),
      'pretrain',
    );
    const config = resolveExperiment(loaded.row, {
      ...(loaded.preset ? { preset: loaded.preset } : {}),
      layers: [loaded.file!, ...overrides],
    });
    expect(config.name).toBe('my-byol');
    expect(config.method.regionLosses).toEqual([]);
    expect(config.scale.backbone).toEqual({ depth: 18, stem: 'small', widthMultiplier: 1 });
    expect(config.scale.imageSize).toBe(64);
    expect(config.scale.batchSize * config.scale.accumulate).toBe(1024);
    expect(config.scale.epochs).toBe(100);
    expect(config.scale.data).toEqual({ kind: 'path', path: 'data/my-photos', size: 72 });
    expect(config.optim).toMatchObject({ baseLr: 0.3, warmupFraction: 0.03, tau0: 0.99 });
  });
});

describe('ediy pretrain --data on an image folder', () => {
  /** Two classes of 12 small PNGs and one file that is not an image. */
  function folder(): string {
    const dir = tempDir('ediy-folder-');
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
  const pretrainOn = async (data: string, extra: string[] = []) => {
    const io = captureIO();
    const out = tempDir('ediy-folder-runs-');
    const code = await main(
      [
        ...['pretrain', 'table1/byol', '--preset', 'smoke', '--max-steps', '1'],
        ...['--data', data, '--backend', BACKEND, '--out', out, ...extra],
      ],
      io,
    );
    return { code, io, config: join(out, 'table1-byol', 'seed-0', 'config.json') };
  };

  it('lists unreadable images before training; --strict makes them an error', async () => {
    const dir = folder();
    const strict = await pretrainOn(dir, ['--strict']);
    expect(strict.code).toBe(2);
    expect(strict.io.err()).toMatch(/--strict: .*1 .*unreadable[\s\S]*bad\.png/);
    expect(strict.io.err()).not.toMatch(/step 1\/1/);
    const lenient = await pretrainOn(dir);
    expect(lenient.code, lenient.io.err()).toBe(0);
    expect(lenient.io.err()).toMatch(/ediy: .*1 .*unreadable[\s\S]*bad\.png[\s\S]*step 1\/1/);
  });

  it('--data scenes:<path> trains on scenes pasted from the items there', async () => {
    const dir = folder();
    const run = await pretrainOn(`scenes:${dir}`);
    expect(run.code, run.io.err()).toBe(0);
    const saved = JSON.parse(readFileSync(run.config, 'utf8')) as ExperimentConfig;
    expect(saved.scale.data).toEqual({ kind: 'pasted', path: dir, count: 32, size: 40, seed: 1 });
    const more = await pretrainOn(`scenes:${dir}`, ['--held-out', '7']);
    expect(more.code, more.io.err()).toBe(0);
    expect((JSON.parse(readFileSync(more.config, 'utf8')) as ExperimentConfig).scale.data).toEqual({
      kind: 'pasted',
      path: dir,
      count: 32,
      size: 40,
      seed: 1,
      heldOutCount: 7,
    });
    // the run's evaluation scores that many held-out scenes
    const runDir = dirname(more.config);
    const io = captureIO();
    const evalCode = await main(['eval', runDir, '--budget', 'smoke', '--backend', BACKEND], io);
    expect(evalCode, io.err()).toBe(0);
    const scored = JSON.parse(readFileSync(runPaths(runDir).eval, 'utf8')) as {
      sizes: { heldOut: number };
    };
    expect(scored.sizes.heldOut).toBe(7);
    const notScenes = await pretrainOn(dir, ['--held-out', '7']);
    expect(notScenes.code).toBe(2);
    expect(notScenes.io.err()).toContain(
      `--held-out sets the held-out scenes of --data scenes:<path>; got --data ${JSON.stringify(dir)}`,
    );
    const zero = await pretrainOn(`scenes:${dir}`, ['--held-out', '0']);
    expect(zero.code).toBe(2);
    expect(zero.io.err()).toContain('--held-out must be an integer >= 1; got "0"');
    const missing = await pretrainOn('scenes:/no/such/items');
    expect(missing.code).toBe(2);
    expect(missing.io.err()).toContain(
      '--data "scenes:/no/such/items" does not exist (/no/such/items)',
    );
  });
});

describe('describeData', () => {
  it('names pasted scenes by their source, never as the embedded scenes', () => {
    expect(describeData(undefined)).toBe('scenes');
    expect(describeData({ kind: 'path', path: '/d/fmnist' })).toBe('/d/fmnist');
    expect(
      describeData({ kind: 'pasted', path: '/d/fmnist', count: 2048, size: 40, seed: 1 }),
    ).toBe('scenes:/d/fmnist (2048 pasted scenes, 40 px, seed 1)');
    expect(
      describeData({
        ...{ kind: 'pasted', path: '/d/fmnist', count: 2048, size: 40, seed: 1 },
        heldOutCount: 2000,
      }),
    ).toBe('scenes:/d/fmnist (2048 pasted scenes, 40 px, seed 1, 2000 held out)');
  });
});

describe('ediy reproduce [overrides]', () => {
  it('applies the overrides to every run, the teacher included, and checks them first', async () => {
    const out = tempDir('ediy-reproduce-overrides-');
    const io = captureIO();
    const argv = ['reproduce', 'table1', '--preset', 'smoke', '--rows', 'byol,ediy', '--out', out];
    const code = await main(
      [...argv, '--batch', '4', '--set', 'optim.baseLr=0.5', '--max-steps', '2', '--plan'],
      io,
    );
    expect(code, io.err()).toBe(0);
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as {
      teacher: { config: ExperimentConfig };
      jobs: Array<{ config: ExperimentConfig }>;
    };
    const configs = [plan.teacher, ...plan.jobs].map((j) => j.config);
    expect(configs).toHaveLength(3);
    for (const c of configs) {
      expect(c.scale.batchSize).toBe(4);
      expect(c.scale.maxSteps).toBe(2);
      expect(c.optim.baseLr).toBe(0.5);
    }
    const bad = captureIO();
    expect(await main([...argv, '--set', 'optim.tau0=2'], bad)).toBe(2);
    expect(bad.err()).toContain(
      'ediy reproduce: --set optim.tau0=2: optim.tau0 must be a number in [0, 1], got 2',
    );
  });
});
