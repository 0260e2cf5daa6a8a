import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import {
  exportTorchvisionWeights,
  importTorchvisionWeights,
  readSafetensors,
  writeSafetensors,
} from '@ediy/backbones/interop';
import { registerFileRouter } from '@ediy/backbones/node';
import { main, METRICS, readRunEval } from '@ediy/cli';
import { loadRunBackbone } from '@ediy/eval/node';
import { PYTHON, captureIO, decodeEvents, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

/** The native engine when built here (as in CI), else plain wasm. */
const BACKEND = await pipelineTestBackend();

/** Max |a - b| of two models' pooled outputs on the same input. */
function maxPooledDiff(a: tfl.LayersModel, b: tfl.LayersModel): number {
  return tf.tidy(() => {
    const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 7);
    const pa = (a.predict(x) as tf.Tensor[])[1] as tf.Tensor;
    const pb = (b.predict(x) as tf.Tensor[])[1] as tf.Tensor;
    return tf.max(tf.abs(tf.sub(pa, pb))).dataSync()[0] as number;
  });
}

describe('commands on a trained run', () => {
  const dir = tempDir('ediy-commands-');
  const run = join(dir, 'runs', 'table1-byol', 'seed-0');

  beforeAll(async () => {
    await initBackend({ prefer: BACKEND });
    const io = captureIO();
    const code = await main(
      [
        'pretrain',
        'table1/byol',
        '--preset',
        'smoke',
        '--max-steps',
        '2',
        '--backend',
        BACKEND,
        '--out',
        join(dir, 'runs'),
      ],
      io,
    );
    expect(code, io.err()).toBe(0);
    expect(io.err()).toMatch(
      BACKEND === 'native'
        ? /ediy: backend native \(wasm \+ oneDNN .*\) on cpu/
        : /ediy: backend wasm \(@tensorflow\/tfjs-backend-wasm\) on cpu/,
    );
    expect(io.err()).toMatch(/table1-byol seed 0 step 2\/2 loss/);
  });

  it('pretrain writes TensorBoard event files to <run>/tb by default', () => {
    const files = readdirSync(join(run, 'tb'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.\d+\./);
  });

  it('eval prints the metrics and writes eval.json', async () => {
    const io = captureIO();
    expect(await main(['eval', run, '--backend', BACKEND, '--budget', 'smoke'], io)).toBe(0);
    const [header, line] = io.out().trim().split('\n');
    expect(header?.split('\t')).toEqual(['run', 'step', ...METRICS.map((m) => m.label), 'seconds']);
    expect(line?.split('\t').slice(0, 2)).toEqual([run, '2']);
    const saved = readRunEval(join(run, 'eval.json'));
    expect(saved.steps).toBe(2);
    expect(Number(line?.split('\t')[2]?.split(' ')[0])).toBeCloseTo(saved.metrics.knnTop1, 4);
    // kNN top-1 with its bootstrap interval, and the evaluation's time.
    expect(line?.split('\t')[2]).toMatch(/^\d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\]$/);
    expect(Number(line?.split('\t').at(-1))).toBeGreaterThan(0);
    // The metrics are in the run's TensorBoard files too, at the step evaluated, as reproduce writes them.
    expect(readdirSync(join(run, 'tb'))).toHaveLength(2);
    if (existsSync(PYTHON)) {
      const evaluation = decodeEvents(join(run, 'tb')).filter((e) =>
        Object.keys(e.scalars ?? {}).some((k) => k.startsWith('eval/')),
      );
      expect(evaluation).toHaveLength(1);
      expect(evaluation[0]?.step).toBe(2);
      const finite = METRICS.filter((m) => Number.isFinite(saved.metrics[m.key]));
      expect(evaluation[0]?.scalars).toEqual(
        Object.fromEntries(finite.map((m) => [`eval/${m.key}`, Math.fround(saved.metrics[m.key])])),
      );
    }
    // --no-tensorboard: eval.json only.
    expect(
      await main(
        ['eval', run, '--backend', BACKEND, '--budget', 'smoke', '--no-tensorboard'],
        captureIO(),
      ),
    ).toBe(0);
    expect(readdirSync(join(run, 'tb'))).toHaveLength(2);
  });

  it('eval --untrained prints both BatchNorm conventions and the floor', async () => {
    const io = captureIO();
    const args = [
      'eval',
      '--untrained',
      run,
      '--backend',
      BACKEND,
      '--budget',
      'smoke',
      '--memory',
      '8',
    ];
    expect(await main(args, io), io.err()).toBe(0);
    const lines = io.out().trim().split('\n');
    expect(lines[0]?.split('\t')).toEqual([
      'run',
      'batchnorm',
      ...METRICS.map((m) => m.label),
      'seconds',
    ]);
    expect(lines.slice(1, 3).map((l) => l.split('\t').slice(0, 2))).toEqual([
      [run, 'initial'],
      [run, 'estimated'],
    ]);
    expect(lines[3]).toMatch(/untrained floor = (initial|estimated) BatchNorm statistics/);
    const saved = JSON.parse(readFileSync(join(run, 'eval-untrained.json'), 'utf8')) as {
      floor: string;
      metrics: { knnTop1: number };
      conventions: Record<string, { memory: number }>;
    };
    // --memory 8: eight training images are the kNN memory.
    expect(saved.conventions.initial?.memory).toBe(8);
    const floorLine = lines.find((l) => l.split('\t')[1] === saved.floor);
    expect(Number(floorLine?.split('\t')[2]?.split(' ')[0])).toBeCloseTo(saved.metrics.knnTop1, 4);
    const bad = captureIO();
    expect(await main(['eval', '--untrained', join(run, 'nothing')], bad)).toBe(2);
    expect(bad.err()).toMatch(/neither a run directory with config.json nor a config .json file/);
    expect(await main(['eval', '--untrained', run, '--memory', 'some'], bad)).toBe(2);
    expect(bad.err()).toMatch(/--memory must be an integer >= 1; got "some"/);
  });

  it('export writes a model directory tf.loadLayersModel loads, with the online backbone', async () => {
    const out = join(dir, 'exported');
    const st = join(dir, 'exported.safetensors');
    const io = captureIO();
    expect(await main(['export', run, '--out', out, '--backend', BACKEND], io)).toBe(0);
    expect(
      await main(['export', run, '--format', 'torchvision', '--out', st, '--backend', BACKEND], io),
    ).toBe(0);
    expect(io.out().trim().split('\n')).toEqual([out, st]);
    const bad = captureIO();
    expect(await main(['export', run, '--format', 'torchvision', '--out', out], bad)).toBe(2);
    expect(bad.err()).toMatch(/--out must name a \.safetensors file with --format torchvision/);
    expect(await main(['export', run, '--format', 'onnx', '--out', out], bad)).toBe(2);
    expect(bad.err()).toMatch(/--format must be one of tfjs, torchvision; got "onnx"/);
    registerFileRouter();
    const loaded = await tfl.loadLayersModel(`file://${join(out, 'model.json')}`);
    const { model, config } = loadRunBackbone(run);
    const viaTorch = resnet({ ...config.scale.backbone, name: 'from_torch' });
    try {
      expect(maxPooledDiff(loaded, model)).toBeLessThan(1e-5);
      importTorchvisionWeights(viaTorch, readSafetensors(new Uint8Array(readFileSync(st)), st));
      expect(maxPooledDiff(viaTorch, model)).toBeLessThan(1e-5);
    } finally {
      for (const m of [loaded, model, viaTorch]) m.dispose();
    }
  });

  it('saliency draws the images and one grid column per run', async () => {
    const png = join(dir, 'grid.png');
    const io = captureIO();
    expect(
      await main(
        [
          'saliency',
          run,
          run,
          '--labels',
          'A,B',
          '--count',
          '3',
          '--out',
          png,
          '--backend',
          BACKEND,
        ],
        io,
      ),
    ).toBe(0);
    const img = PNG.sync.read(readFileSync(png));
    // Three rows (images) and three columns (the image, A, B) of 20 px scenes at the
    // default zoom of 5 (cells >= 96 px), with headers and a colour bar beside them.
    expect(img.height).toBeGreaterThan(3 * 100);
    expect(img.width).toBeGreaterThan(3 * 100 + 40);
    expect(io.err()).toContain(`saliency grid ${img.width}x${img.height}`);
  });
});

describe('import-weights', () => {
  beforeAll(async () => {
    await initBackend({ prefer: BACKEND });
  });

  it('turns a torchvision state dict into a model directory usable as a teacher', async () => {
    const dir = tempDir('ediy-import-');
    const config = { depth: 18 as const, stem: 'small' as const, widthMultiplier: 0.0625 };
    const source = resnet({ ...config, seed: 11 });
    const file = join(dir, 'r18.safetensors');
    writeFileSync(file, writeSafetensors(exportTorchvisionWeights(source, config)));
    const out = join(dir, 'r18');
    const io = captureIO();
    expect(await main(['import-weights', file, '--out', out, '--backend', BACKEND], io)).toBe(0);
    expect(io.out().trim()).toBe(out);
    expect(io.err()).toContain('resnet18, small stem, width x0.0625');
    registerFileRouter();
    const loaded = await tfl.loadLayersModel(`file://${join(out, 'model.json')}`);
    try {
      expect(maxPooledDiff(loaded, source)).toBeLessThan(1e-5);
    } finally {
      loaded.dispose();
      source.dispose();
    }
    const train = captureIO();
    const code = await main(
      [
        'pretrain',
        'table1/ediy',
        '--preset',
        'smoke',
        '--max-steps',
        '1',
        '--teacher',
        out,
        '--out',
        join(dir, 'runs'),
        '--backend',
        BACKEND,
      ],
      train,
    );
    expect(code, train.err()).toBe(0);
    const saved = JSON.parse(
      readFileSync(join(dir, 'runs', 'table1-ediy', 'seed-0', 'config.json'), 'utf8'),
    ) as { teacher: unknown };
    expect(saved.teacher).toEqual({ modelDir: out });
  });

  it('fails with exit code 1 naming a corrupt file, or a state dict of another architecture than --arch', async () => {
    const dir = tempDir('ediy-import-bad-');
    const file = join(dir, 'bad.safetensors');
    writeFileSync(file, new Uint8Array([1, 2, 3]));
    const io = captureIO();
    expect(
      await main(
        [
          'import-weights',
          file,
          '--arch',
          'resnet18',
          '--out',
          join(dir, 'x'),
          '--backend',
          BACKEND,
        ],
        io,
      ),
    ).toBe(1);
    expect(io.err()).toContain('bad.safetensors');
    expect(existsSync(join(dir, 'x'))).toBe(false);

    const config = { depth: 18 as const, stem: 'small' as const, widthMultiplier: 0.0625 };
    const source = resnet({ ...config, seed: 1 });
    const good = join(dir, 'r18.safetensors');
    writeFileSync(good, writeSafetensors(exportTorchvisionWeights(source, config)));
    source.dispose();
    const wrong = captureIO();
    expect(
      await main(
        [
          'import-weights',
          good,
          '--arch',
          'resnet34',
          '--out',
          join(dir, 'y'),
          '--backend',
          BACKEND,
        ],
        wrong,
      ),
    ).toBe(1);
    expect(wrong.err()).toMatch(
      /r18.safetensors holds a resnet18 state dict \(read off its keys\), not the --arch resnet34 asked for/,
    );
    expect(existsSync(join(dir, 'y'))).toBe(false);
  });
});

describe('--checkpoint-every', () => {
  it('checkpoints as often as asked, keeping the preset number of checkpoints', async () => {
    const dir = tempDir('ediy-ckpt-');
    const io = captureIO();
    const argv = [
      'pretrain',
      'table1/byol',
      '--preset',
      'smoke',
      '--max-steps',
      '3',
      '--checkpoint-every',
      '1',
    ];
    expect(await main([...argv, '--backend', BACKEND, '--out', dir], io)).toBe(0);
    const run = join(dir, 'table1-byol', 'seed-0');
    // smoke keeps the last 2 checkpoints.
    expect(readdirSync(join(run, 'checkpoints')).sort()).toEqual([
      'step-00000002',
      'step-00000003',
    ]);
    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as {
      checkpoint: { every: number };
    };
    expect(config.checkpoint.every).toBe(1);
  });
});
