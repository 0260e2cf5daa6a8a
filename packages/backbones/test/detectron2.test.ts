import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import {
  bfloat16ToFloat,
  floatToBfloat16,
  importTorchvisionWeights,
  torchvisionStateKeys,
  writeSafetensors,
} from '@ediy/backbones/interop';
import { exportBackbone } from '@ediy/backbones/node';
import type { ResNetConfig } from '@ediy/backbones';
import type { StateDict } from '@ediy/backbones/interop';
import { pythonMissing, randomState, toolPath, TORCH_PYTHON } from './export-helpers.js';
import { fixtureBytes } from './helpers.js';

/** `python3` on PATH: numpy and the standard library are all the converter needs. */
const PYTHON = 'python3';
const CONVERT = toolPath('convert_to_detectron2.py');
/** Loads a pkl as Detectron2 does (pickle, latin1) and prints names, shapes, dtypes and some values as JSON. */
const DUMP = `
import json, pickle, sys
with open(sys.argv[1], 'rb') as f:
    d = pickle.load(f, encoding='latin1')
m = d['model']
print(json.dumps({
    'top': sorted(d.keys()), 'author': d['__author__'], 'matching_heuristics': d['matching_heuristics'],
    'names': list(m.keys()), 'shapes': {k: list(v.shape) for k, v in m.items()},
    'dtypes': sorted({str(v.dtype) for v in m.values()}),
    'values': {k: m[k].ravel().tolist() for k in sys.argv[2:]},
}))
`;

interface Dump {
  top: string[];
  author: string;
  matching_heuristics: boolean;
  names: string[];
  shapes: Record<string, number[]>;
  dtypes: string[];
  values: Record<string, number[]>;
}

const numpyMissing = pythonMissing(PYTHON, ['numpy']);
if (numpyMissing) console.warn(`skipping the Detectron2 conversion checks: ${numpyMissing}`);

let dir: string;
beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
  dir = mkdtempSync(join(tmpdir(), 'ediy-d2-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function convert(
  input: string,
  output: string,
): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(PYTHON, [CONVERT, input, output], { encoding: 'utf8', timeout: 300_000 });
}

function dump(pkl: string, keys: string[], python = PYTHON): Dump {
  const r = spawnSync(python, ['-c', DUMP, pkl, ...keys], { encoding: 'utf8', timeout: 300_000 });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Dump;
}

describe.skipIf(numpyMissing !== null)(
  `tools/convert_to_detectron2.py${numpyMissing ? ` skipped: ${numpyMissing}` : ''}`,
  () => {
    it.each([
      { config: { depth: 50, stem: 'imagenet', widthMultiplier: 4 / 64 }, dtype: 'F32' },
      { config: { depth: 18, stem: 'imagenet', widthMultiplier: 4 / 64 }, dtype: 'BF16' },
    ] as { config: ResNetConfig; dtype: 'F32' | 'BF16' }[])(
      'turns a ResNet-$config.depth export ($dtype) into a Detectron2 pkl',
      async ({ config, dtype }) => {
        const model = resnet(config);
        const state = randomState(config, config.depth, dtype);
        importTorchvisionWeights(model, state);
        const input = join(dir, `r${config.depth}.safetensors`);
        await exportBackbone(model, config, { format: 'torchvision', out: input, dtype });
        model.dispose();
        const output = join(dir, `r${config.depth}.pkl`);
        const r = convert(input, output);
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`ResNet-${config.depth}, base width 4`));

        const d = dump(output, [
          'stem.conv1.weight',
          'res3.0.shortcut.norm.running_var',
          'res5.1.conv2.norm.bias',
        ]);
        expect(d.top).toEqual(['__author__', 'matching_heuristics', 'model']);
        expect(d.matching_heuristics).toBe(true);
        expect(d.author).toBe('ediy');
        expect(d.dtypes).toEqual(['float32']);
        // Every float tensor, renamed; num_batches_tracked dropped.
        const keys = torchvisionStateKeys(config).filter((k) => k.weight !== null);
        expect(d.names.length).toBe(keys.length);
        expect(d.names.some((n) => /layer|bn\d|downsample|num_batches_tracked/.test(n))).toBe(
          false,
        );
        const c = config.depth === 50 ? 4 : 1;
        expect(d.shapes['stem.conv1.weight']).toEqual([4, 3, 7, 7]);
        expect(d.shapes['stem.conv1.norm.running_mean']).toEqual([4]);
        expect(d.shapes['res2.0.conv1.norm.weight']).toEqual([4]);
        expect(d.shapes['res2.1.conv2.weight']).toEqual([4, 4, 3, 3]);
        expect(d.shapes['res3.0.shortcut.weight']).toEqual([8 * c, 4 * c, 1, 1]);
        expect(d.shapes['res3.0.shortcut.norm.running_var']).toEqual([8 * c]);
        expect(d.shapes['res5.1.conv2.norm.bias']).toEqual([32]);
        if (config.depth === 50) {
          expect(d.shapes['res2.0.shortcut.weight']).toEqual([16, 4, 1, 1]);
          expect(d.shapes['res4.5.conv3.norm.running_var']).toEqual([64]);
        } else {
          expect(d.names).not.toContain('res2.0.shortcut.weight');
          expect(d.names.some((n) => n.includes('conv3'))).toBe(false);
        }
        // The values are the exported ones (BF16 as stored, widened exactly).
        const stored = (key: string) => {
          const values = Array.from(state.get(key)!.data as Float32Array);
          return dtype === 'F32' ? values : values.map((v) => bfloat16ToFloat(floatToBfloat16(v)));
        };
        expect(d.values['stem.conv1.weight']).toEqual(stored('conv1.weight'));
        expect(d.values['res3.0.shortcut.norm.running_var']).toEqual(
          stored('layer2.0.downsample.1.running_var'),
        );
        expect(d.values['res5.1.conv2.norm.bias']).toEqual(stored('layer4.1.bn2.bias'));
      },
    );

    it('refuses files that are not a ResNet state dict Detectron2 can take, naming the keys', () => {
      const out = join(dir, 'bad.pkl');
      const write = (name: string, state: StateDict): string => {
        const path = join(dir, name);
        writeFileSync(path, writeSafetensors(state));
        return path;
      };
      // Not a ResNet at all.
      let r = convert(
        write(
          'vit.safetensors',
          new Map([
            ['patch_embed.proj.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) }],
          ]),
        ),
        out,
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /is not a torchvision ResNet state dict: keys patch_embed\.proj\.weight are not ResNet keys/,
      );
      // A ResNet-50 with keys removed.
      const config: ResNetConfig = { depth: 50, stem: 'imagenet', widthMultiplier: 2 / 64 };
      const partial = randomState(config, 1);
      partial.delete('layer3.2.conv2.weight');
      partial.delete('layer1.0.downsample.1.running_var');
      r = convert(write('partial.safetensors', partial), out);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /not a complete ResNet-50 state dict: missing keys layer1\.0\.downsample\.1\.running_var, layer3\.2\.conv2\.weight/,
      );
      // A mis-shaped key.
      const misshaped = randomState(config, 1);
      misshaped.set('layer2.1.bn1.weight', { dtype: 'F32', shape: [3], data: new Float32Array(3) });
      r = convert(write('misshaped.safetensors', misshaped), out);
      expect(r.stderr).toMatch(
        /'layer2\.1\.bn1\.weight' has shape \[3\]; a ResNet-50 of base width 2 needs \[4\]/,
      );
      // The small (3x3) stem: Detectron2's stem is 7x7.
      r = convert(
        write(
          'small.safetensors',
          randomState({ depth: 18, stem: 'small', widthMultiplier: 2 / 64 }, 1),
        ),
        out,
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /conv1\.weight has shape \[2, 3, 3, 3\]; Detectron2's ResNet stem is a 7x7 conv/,
      );
      // Not a safetensors file.
      writeFileSync(join(dir, 'junk.safetensors'), Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 123]));
      r = convert(join(dir, 'junk.safetensors'), out);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /header length 200 exceeds the file \(9 bytes\); not a safetensors file/,
      );
      r = convert(join(dir, 'absent.safetensors'), out);
      expect(r.stderr).toMatch(/cannot read .*absent\.safetensors/);
      expect(existsSync(out)).toBe(false);
    });

    it('converts a state dict written by PyTorch (the F16 fixture)', () => {
      const input = join(dir, 'fixture.safetensors');
      writeFileSync(input, fixtureBytes('resnet50-imagenet-w4.safetensors'));
      const r = convert(input, join(dir, 'fixture.pkl'));
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(
        /MODEL\.RESNETS\.DEPTH 50 MODEL\.RESNETS\.STRIDE_IN_1X1 False MODEL\.RESNETS\.STEM_OUT_CHANNELS 4 MODEL\.RESNETS\.WIDTH_PER_GROUP 4 MODEL\.RESNETS\.RES2_OUT_CHANNELS 16/,
      );
      const d = dump(join(dir, 'fixture.pkl'), []);
      expect(d.names.length).toBe(265);
    });

    it('pickles arrays that numpy 1 and numpy 2 both load (no numpy.core / numpy._core reference)', () => {
      const input = join(dir, 'fixture.safetensors');
      writeFileSync(input, fixtureBytes('resnet50-imagenet-w4.safetensors'));
      const pkl = join(dir, 'portable.pkl');
      expect(convert(input, pkl).status).toBe(0);
      const text = readFileSync(pkl).toString('latin1');
      expect(text).toContain('ndarray');
      expect(text).not.toMatch(/numpy\._?core/);
      const keys = ['stem.conv1.weight', 'res4.5.conv3.norm.running_var'];
      const a = dump(pkl, keys);
      expect(a.values['stem.conv1.weight']!.length).toBe(4 * 3 * 7 * 7);
      // Another Python (Debian's, numpy 1.x here) reads the same names, shapes and values.
      if (pythonMissing(TORCH_PYTHON, ['numpy']) === null)
        expect(dump(pkl, keys, TORCH_PYTHON)).toEqual(a);
    });
  },
);
