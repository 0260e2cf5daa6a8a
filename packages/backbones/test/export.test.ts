import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import {
  exportTorchvisionWeights,
  importTorchvisionWeights,
  inferTorchvisionConfig,
  readSafetensors,
  readSafetensorsMetadata,
  torchvisionStateKeys,
  writeSafetensors,
} from '@ediy/backbones/interop';
import { exportBackbone, loadModelFromDir } from '@ediy/backbones/node';
import type { ResNetConfig } from '@ediy/backbones';
import type { StateDict } from '@ediy/backbones/interop';
import { randomState } from './export-helpers.js';
import { fixtureState } from './helpers.js';

let dir: string;
beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
  dir = mkdtempSync(join(tmpdir(), 'ediy-export-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const SMALL: Record<18 | 34 | 50, ResNetConfig> = {
  18: { depth: 18, stem: 'small', widthMultiplier: 4 / 64 },
  34: { depth: 34, stem: 'imagenet', widthMultiplier: 2 / 64 },
  50: { depth: 50, stem: 'imagenet', widthMultiplier: 2 / 64 },
};

describe.each([18, 34, 50] as const)('ResNet-%i round trip', (depth) => {
  const config = SMALL[depth];
  it.each(['F32', 'F16', 'BF16'] as const)(
    'import -> export gives the same %s bytes and tensors',
    (dtype) => {
      const state = randomState(config, depth, dtype);
      const bytes = writeSafetensors(state);
      const model = resnet({ ...config, seed: 3 });
      importTorchvisionWeights(model, readSafetensors(bytes));
      const back = exportTorchvisionWeights(model, config, { dtype, numBatchesTracked: 7 });
      expect([...back.keys()]).toEqual([...state.keys()]);
      const again = writeSafetensors(back);
      expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
      // Tensor by tensor, against the values as stored (F16/BF16 were rounded on writing).
      const stored = readSafetensors(bytes);
      for (const [key, t] of back) {
        const s = stored.get(key)!;
        expect(t.shape, key).toEqual(s.shape);
        expect(Array.from(t.data as ArrayLike<number>), key).toEqual(
          Array.from(s.data as ArrayLike<number>),
        );
      }
      model.dispose();
    },
  );
});

describe('inferTorchvisionConfig', () => {
  it('reads depth, stem and width off the keys of all three depths', () => {
    const cases: ResNetConfig[] = [
      ...Object.values(SMALL),
      { depth: 18, stem: 'imagenet', widthMultiplier: 1 },
      { depth: 50, stem: 'small', widthMultiplier: 0.5 },
    ];
    for (const config of cases) {
      const state = new Map(
        torchvisionStateKeys(config).map((k) => [
          k.key,
          { dtype: 'F32' as const, shape: k.shape, data: new Float32Array(0) },
        ]),
      );
      expect(inferTorchvisionConfig(state)).toEqual(config);
    }
    expect(inferTorchvisionConfig(fixtureState('resnet50-imagenet-w4.safetensors'))).toEqual({
      depth: 50,
      stem: 'imagenet',
      widthMultiplier: 4 / 64,
    });
  });

  it('names what is wrong with a state dict that is not a ResNet-18/34/50', () => {
    const t = (shape: number[]) => ({
      dtype: 'F32' as const,
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
    });
    const vit: StateDict = new Map([
      ['patch_embed.proj.weight', t([8, 3, 4, 4])],
      ['blocks.0.attn.qkv.weight', t([24, 8])],
    ]);
    expect(() => inferTorchvisionConfig(vit)).toThrow(
      /not a torchvision ResNet state dict: no key 'conv1\.weight' \(2 keys, e\.g\. patch_embed\.proj\.weight/,
    );
    const moco: StateDict = new Map([['module.encoder_q.conv1.weight', t([64, 3, 7, 7])]]);
    expect(() => inferTorchvisionConfig(moco)).toThrow(/module\.encoder_q\.conv1\.weight/);
    expect(() => inferTorchvisionConfig(new Map([['conv1.weight', t([64, 1, 7, 7])]]))).toThrow(
      /'conv1\.weight' has shape \[64, 1, 7, 7\]; expected \[width, 3, 7, 7\]/,
    );
    // A ResNet-101: bottleneck blocks 3,4,23,3.
    const r101: StateDict = new Map([
      ['conv1.weight', t([64, 3, 7, 7])],
      ['layer1.0.conv3.weight', t([256, 64, 1, 1])],
    ]);
    [3, 4, 23, 3].forEach((n, s) => {
      for (let b = 0; b < n; b++) r101.set(`layer${s + 1}.${b}.conv1.weight`, t([1]));
    });
    expect(() => inferTorchvisionConfig(r101)).toThrow(
      /bottleneck blocks 3,4,23,3 in layer1\.\.layer4; expected basic 2,2,2,2 \(ResNet-18\)/,
    );
  });
});

describe('importTorchvisionWeights on another architecture', () => {
  it('a ResNet-50 state dict into a ResNet-18: names the mis-shaped key and what the file is', () => {
    const model = resnet({ depth: 18, stem: 'imagenet', widthMultiplier: 4 / 64 });
    expect(() =>
      importTorchvisionWeights(model, fixtureState('resnet50-imagenet-w4.safetensors')),
    ).toThrow(
      /'layer1\.0\.conv1\.weight' has shape \[4, 4, 1, 1\]; the model expects \[4, 4, 3, 3\].*looks like a ResNet-50, imagenet stem, width multiplier 0\.0625/,
    );
    model.dispose();
  });

  it('a ResNet-18 state dict into a ResNet-34: names the missing keys', () => {
    const model = resnet(SMALL[34]);
    const state = randomState({ ...SMALL[34], depth: 18 }, 1);
    expect(() => importTorchvisionWeights(model, state)).toThrow(
      /missing keys: layer1\.2\.conv1\.weight, layer1\.2\.bn1\.weight, .*looks like a ResNet-18, imagenet stem/,
    );
    model.dispose();
  });

  it('a state dict with keys removed: names them', () => {
    const model = resnet(SMALL[50]);
    const state = randomState(SMALL[50], 2);
    state.delete('layer3.0.downsample.0.weight');
    state.delete('layer4.2.bn3.running_mean');
    expect(() => importTorchvisionWeights(model, state)).toThrow(
      /missing keys: layer3\.0\.downsample\.0\.weight, layer4\.2\.bn3\.running_mean/,
    );
    model.dispose();
  });

  it('a non-ResNet state dict: says it is not a torchvision ResNet', () => {
    const model = resnet(SMALL[18]);
    const state: StateDict = new Map([
      ['encoder.conv.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) }],
    ]);
    expect(() => importTorchvisionWeights(model, state)).toThrow(
      /unexpected keys: encoder\.conv\.weight \(not a torchvision ResNet state dict: no key 'conv1\.weight'/,
    );
    model.dispose();
  });
});

describe('exportBackbone', () => {
  const config = SMALL[18];

  it("format 'torchvision' writes exportTorchvisionWeights' bytes atomically and replaces an old file", async () => {
    const model = resnet({ ...config, seed: 9 });
    const before = tf.memory().numTensors;
    const out = join(dir, 'tv', 'r18.safetensors');
    mkdirSync(join(dir, 'tv'), { recursive: true });
    writeFileSync(out, 'old');
    const result = await exportBackbone(model, config, {
      format: 'torchvision',
      out,
      dtype: 'BF16',
      numBatchesTracked: 4,
      metadata: { format: 'pt' },
    });
    expect(tf.memory().numTensors).toBe(before);
    const want = writeSafetensors(
      exportTorchvisionWeights(model, config, { dtype: 'BF16', numBatchesTracked: 4 }),
      { format: 'pt' },
    );
    const got = new Uint8Array(readFileSync(out));
    expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
    expect(result).toEqual({
      format: 'torchvision',
      path: out,
      bytes: want.byteLength,
      keys: torchvisionStateKeys(config).map((k) => k.key),
    });
    expect(readSafetensorsMetadata(got)).toEqual({ format: 'pt' });
    expect(readdirSync(join(dir, 'tv'))).toEqual(['r18.safetensors']);
    model.dispose();
  });

  it('leaves an existing file untouched when the model does not match the config', async () => {
    const model = resnet(config);
    const out = join(dir, 'keep.safetensors');
    writeFileSync(out, 'previous export');
    await expect(
      exportBackbone(model, { ...config, depth: 34 }, { format: 'torchvision', out }),
    ).rejects.toThrow(/no weight for torchvision key 'layer1\.2\.conv1\.weight'/);
    expect(readFileSync(out, 'utf8')).toBe('previous export');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    model.dispose();
  });

  it("format 'tfjs' writes a Layers directory that loads and predicts the same", async () => {
    const model = resnet({ ...config, seed: 4 });
    const out = join(dir, 'tfjs-model');
    const result = await exportBackbone(model, config, { format: 'tfjs', out });
    expect(result.path).toBe(out);
    expect(result.bytes).toBe(model.countParams() * 4);
    expect(result.keys.length).toBe(model.weights.length);
    expect(existsSync(join(out, 'model.json'))).toBe(true);
    const copy = await loadModelFromDir(out);
    const x = tf.randomNormal([1, 16, 16, 3], 0, 1, 'float32', 2);
    const [a] = model.predict(x) as tf.Tensor[];
    const [b] = copy.predict(x) as tf.Tensor[];
    expect(Array.from(b!.dataSync())).toEqual(Array.from(a!.dataSync()));
    tf.dispose([x, a!, b!]);
    copy.dispose();
    model.dispose();
  });

  it('rejects a bad format, output path or option, naming it', async () => {
    const model = resnet(config);
    const run = (options: Parameters<typeof exportBackbone>[2]) =>
      exportBackbone(model, config, options);
    await expect(run({ format: 'onnx' as 'tfjs', out: join(dir, 'x') })).rejects.toThrow(
      /options\.format must be 'tfjs' or 'torchvision', got "onnx"/,
    );
    await expect(run({ format: 'torchvision', out: join(dir, 'x.pt') })).rejects.toThrow(
      /x\.pt must end in \.safetensors/,
    );
    mkdirSync(join(dir, 'd.safetensors'));
    await expect(run({ format: 'torchvision', out: join(dir, 'd.safetensors') })).rejects.toThrow(
      /d\.safetensors is a directory/,
    );
    await expect(run({ format: 'tfjs', out: '' })).rejects.toThrow(
      /options\.out must be a non-empty path, got ""/,
    );
    await expect(run({ format: 'tfjs', out: join(dir, 'y'), dtype: 'F16' })).rejects.toThrow(
      /options\.dtype applies to format 'torchvision' only/,
    );
    expect(existsSync(join(dir, 'x'))).toBe(false);
    model.dispose();
  });
});
