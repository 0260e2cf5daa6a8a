import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import { importTorchvisionWeights, readSafetensors } from '@ediy/backbones/interop';
import { exportBackbone } from '@ediy/backbones/node';
import type { ResNetConfig } from '@ediy/backbones';
import type { StateDict } from '@ediy/backbones/interop';
import {
  ioFile,
  pythonMissing,
  randomiseBatchNorm,
  randomState,
  toolPath,
  TORCH_PYTHON,
} from './export-helpers.js';
import { fixturePath } from './helpers.js';

/** torchvision's resnet18/34/50 state-dict keys and shapes, fc excluded (tools/check_torchvision_export.py --write-keys). */
const TORCHVISION_KEYS = JSON.parse(
  readFileSync(fixturePath('torchvision-keys.json'), 'utf8'),
) as Record<string, [string, number[]][]>;

const DEPTHS = [18, 34, 50] as const;
let dir: string;
/** Full-width (stock torchvision) models with random BN statistics, and their exports. */
const full = new Map<
  number,
  { config: ResNetConfig; model: LayersModel; path: string; state: StateDict }
>();

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
  dir = mkdtempSync(join(tmpdir(), 'ediy-tv-export-'));
  for (const depth of DEPTHS) {
    const config: ResNetConfig = { depth, stem: 'imagenet', seed: depth };
    const model = resnet(config);
    randomiseBatchNorm(model, depth);
    const path = join(dir, `resnet${depth}.safetensors`);
    await exportBackbone(model, config, { format: 'torchvision', out: path });
    full.set(depth, {
      config,
      model,
      path,
      state: readSafetensors(new Uint8Array(readFileSync(path)), path),
    });
  }
});

afterAll(() => {
  for (const { model } of full.values()) model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(DEPTHS)('full-width ResNet-%i export', (depth) => {
  it("has exactly torchvision's keys, in its order, with its shapes", () => {
    const { state } = full.get(depth)!;
    const want = TORCHVISION_KEYS[`resnet${depth}`]!;
    expect(want.length).toBeGreaterThan(100);
    expect([...state.keys()]).toEqual(want.map(([k]) => k));
    for (const [key, shape] of want) expect(state.get(key)!.shape, key).toEqual(shape);
    expect(state.get('layer1.0.bn1.running_var')!.dtype).toBe('F32');
    expect(state.get('bn1.num_batches_tracked')!.dtype).toBe('I64');
  });

  it('stores conv kernels OIHW and BN statistics under their torch names', () => {
    const { model, state } = full.get(depth)!;
    const layer = depth === 50 ? 'layer2.0.conv2' : 'layer3.1.conv1';
    const kernel = model.getLayer(layer).getWeights()[0]!; // HWIO; the variable's own tensor, not a copy
    const [h, w, i, o] = kernel.shape as [number, number, number, number];
    const k = kernel.dataSync();
    const t = state.get(`${layer}.weight`)!;
    expect(t.shape).toEqual([o, i, h, w]);
    for (const [a, b, y, x] of [
      [0, 0, 0, 0],
      [o - 1, 1, 2, 1],
      [5, i - 1, 1, 2],
    ] as const) {
      expect(t.data[((a * i + b) * h + y) * w + x]).toBe(k[((y * w + x) * i + b) * o + a]);
    }
    const [gamma, beta, mean, variance] = model.getLayer('layer4.1.bn2').getWeights();
    for (const [name, v] of [
      ['weight', gamma],
      ['bias', beta],
      ['running_mean', mean],
      ['running_var', variance],
    ] as const) {
      expect(Array.from(state.get(`layer4.1.bn2.${name}`)!.data as Float32Array), name).toEqual(
        Array.from(v!.dataSync()),
      );
    }
  });
});

const torchMissing = pythonMissing(TORCH_PYTHON, ['torch', 'torchvision', 'numpy']);
if (torchMissing) console.warn(`skipping the torchvision checks: ${torchMissing}`);

describe.skipIf(torchMissing !== null)(
  `tools/check_torchvision_export.py (PyTorch)${torchMissing ? ` skipped: ${torchMissing}` : ''}`,
  () => {
    it('loads every export into torchvision leaving only fc missing, torchvision reproduces our outputs within 1e-4, and a wrong output fails', async () => {
      const jobs: { weights: string; io: string; depth: number }[] = [];
      // Full width: stock torchvision.models.resnet18/34/50().
      for (const [depth, { model, path }] of full) {
        const io = join(dir, `resnet${depth}.io.safetensors`);
        writeFileSync(io, ioFile(model, 1, 64, depth)); // a 2x2 layer4 map
        jobs.push({ weights: path, io, depth });
      }
      // Narrow models of every depth and both stems, with random weights and BN statistics.
      const narrow: ResNetConfig[] = [
        { depth: 18, stem: 'small', widthMultiplier: 4 / 64 },
        { depth: 34, stem: 'imagenet', widthMultiplier: 8 / 64 },
        { depth: 50, stem: 'imagenet', widthMultiplier: 4 / 64 },
      ];
      for (const config of narrow) {
        const model = resnet(config);
        importTorchvisionWeights(model, randomState(config, 100 + config.depth));
        const weights = join(dir, `narrow-${config.depth}.safetensors`);
        await exportBackbone(model, config, { format: 'torchvision', out: weights, dtype: 'F32' });
        const io = join(dir, `narrow-${config.depth}.io.safetensors`);
        writeFileSync(io, ioFile(model, 2, config.stem === 'small' ? 20 : 48, config.depth));
        jobs.push({ weights, io, depth: config.depth });
        // The same weights against the outputs of a model with other weights: must fail.
        if (config.depth === 50) {
          const other = resnet({ ...config, seed: 99 });
          const wrong = join(dir, 'wrong.io.safetensors');
          writeFileSync(wrong, ioFile(other, 2, 48, config.depth));
          other.dispose();
          jobs.push({ weights, io: wrong, depth: 50 });
        }
        model.dispose();
      }
      const jobsPath = join(dir, 'jobs.json');
      writeFileSync(jobsPath, JSON.stringify(jobs));
      const r = spawnSync(
        TORCH_PYTHON,
        [toolPath('check_torchvision_export.py'), '--jobs', jobsPath],
        { encoding: 'utf8', timeout: 600_000 },
      );
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          /narrow-50\.safetensors: layer4 differs from torchvision by [0-9.e+-]+ relative \(max\); expected < 0\.0001$/,
        ),
      ]);
      const reports = r.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(reports.length).toBe(7);
      for (const [index, report] of reports.entries()) {
        if (index === 6) {
          expect(report['error']).toMatch(/layer4 differs/);
          continue;
        }
        expect(report['error'], jobs[index]!.weights).toBeUndefined();
        expect(report['depth']).toBe(jobs[index]!.depth);
        expect(report['missing']).toEqual(['fc.bias', 'fc.weight']);
        expect(report['stock_torchvision']).toBe(index < 3);
        expect(report['layer4_rel_error']).toBeLessThan(1e-4);
        expect(report['pooled_rel_error']).toBeLessThan(1e-4);
      }
    });
  },
);
