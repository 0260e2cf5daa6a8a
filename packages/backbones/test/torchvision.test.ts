import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { resnet, trainableParameterCount } from '@ediy/backbones';
import {
  exportTorchvisionWeights,
  hwioToOihw,
  importTorchvisionWeights,
  oihwToHwio,
  torchvisionStateKeys,
  writeSafetensors,
} from '@ediy/backbones/interop';
import type { ResNetConfig } from '@ediy/backbones';
import type { SafeTensor, StateDict } from '@ediy/backbones/interop';
import { fixtureBytes, fixtureState, get, nchwToNhwc, relativeError } from './helpers.js';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

const CASES: { name: string; config: ResNetConfig; dtype: 'F16' | 'BF16' }[] = [
  {
    name: 'resnet50-imagenet-w4',
    config: { depth: 50, stem: 'imagenet', widthMultiplier: 4 / 64 },
    dtype: 'F16',
  },
  {
    name: 'resnet18-small-w4',
    config: { depth: 18, stem: 'small', widthMultiplier: 4 / 64 },
    dtype: 'BF16',
  },
];

describe('layout', () => {
  it('moves OIHW element [o,i,y,x] to HWIO [y,x,i,o] and back', () => {
    // O=2, I=3, H=1, W=2: value = 100*o + 10*i + x.
    const oihw: number[] = [];
    for (let o = 0; o < 2; o++)
      for (let i = 0; i < 3; i++) for (let x = 0; x < 2; x++) oihw.push(100 * o + 10 * i + x);
    const hwio = oihwToHwio(oihw, [2, 3, 1, 2]);
    // HWIO flat index ((y*W + x)*I + i)*O + o
    expect(hwio[((0 * 2 + 1) * 3 + 2) * 2 + 1]).toBe(121);
    expect(hwio[((0 * 2 + 0) * 3 + 1) * 2 + 0]).toBe(10);
    expect(Array.from(hwioToOihw(hwio, [1, 2, 3, 2]))).toEqual(oihw);
    expect(() => oihwToHwio([1, 2, 3], [1, 1, 2, 2])).toThrow(/needs 4 values, got 3/);
  });
});

describe('torchvision state keys', () => {
  it('name every trainable and BN weight of the model once, with the torch shape', () => {
    for (const { config } of CASES) {
      const model = resnet(config);
      const keys = torchvisionStateKeys(config);
      const mapped = keys.filter((k) => k.weight !== null);
      expect(mapped.length).toBe(model.weights.length);
      let trainable = 0;
      for (const k of mapped) {
        const layer = model.getLayer(k.layer);
        const v = layer.weights.find((w) => w.originalName.endsWith(`/${k.weight}`));
        expect(v, k.key).toBeDefined();
        const shape =
          k.weight === 'kernel' ? [v!.shape[3], v!.shape[2], v!.shape[0], v!.shape[1]] : v!.shape;
        expect(shape, k.key).toEqual(k.shape);
        if (v!.trainable) trainable += k.shape.reduce((a, b) => a * b, 1);
      }
      expect(trainable).toBe(trainableParameterCount(model));
      model.dispose();
    }
  });

  it('match the fixture state dicts (written by PyTorch) key for key, in order', () => {
    for (const { name, config } of CASES) {
      const state = fixtureState(`${name}.safetensors`);
      expect([...state.keys()]).toEqual(torchvisionStateKeys(config).map((k) => k.key));
      for (const k of torchvisionStateKeys(config))
        expect(get(state, k.key).shape, k.key).toEqual(k.shape);
    }
  });
});

describe.each(CASES)('$name fixture (PyTorch, eval mode)', ({ name, config, dtype }) => {
  it('gives torch layer4 map and pooled output within 1e-4 relative after import', () => {
    const state = fixtureState(`${name}.safetensors`);
    const io = fixtureState(`${name}.io.safetensors`);
    const model = resnet(config);
    const report = importTorchvisionWeights(model, state);
    expect(report.missing).toEqual([]);
    expect(report.unexpected).toEqual([]);
    expect(report.loaded.length).toBe(model.weights.length);
    expect(report.ignored.every((k) => k.endsWith('.num_batches_tracked'))).toBe(true);

    const x = nchwToNhwc(get(io, 'input'));
    const want = nchwToNhwc(get(io, 'layer4'));
    const [map, pooled] = model.predict(x) as tf.Tensor[];
    expect(map!.shape).toEqual(want.shape);
    const mapErr = relativeError(map!.dataSync(), want.dataSync());
    const poolErr = relativeError(pooled!.dataSync(), get(io, 'pooled').data as Float32Array);
    expect(mapErr).toBeLessThan(1e-4);
    expect(poolErr).toBeLessThan(1e-4);
    // The comparison is sensitive: the default (random) weights are far off.
    const fresh = resnet({ ...config, seed: 1 });
    const [other] = fresh.predict(x) as tf.Tensor[];
    expect(relativeError(other!.dataSync(), want.dataSync())).toBeGreaterThan(0.1);
    tf.dispose([x, want, map!, pooled!, other!]);
    fresh.dispose();
    model.dispose();
  });

  it('exports back to the same safetensors bytes', () => {
    const bytes = fixtureBytes(`${name}.safetensors`);
    const model = resnet(config);
    importTorchvisionWeights(model, fixtureState(`${name}.safetensors`));
    const out = writeSafetensors(exportTorchvisionWeights(model, config, { dtype }));
    expect(out.byteLength).toBe(bytes.byteLength);
    expect(Buffer.from(out).equals(Buffer.from(bytes))).toBe(true);
    model.dispose();
  });
});

describe('importTorchvisionWeights', () => {
  const config: ResNetConfig = { depth: 18, stem: 'small', widthMultiplier: 4 / 64 };
  const fixture = (): StateDict => fixtureState('resnet18-small-w4.safetensors');

  function kernelOf(model: ReturnType<typeof resnet>, layer: string): Float32Array {
    return model.getLayer(layer).getWeights()[0]!.dataSync() as Float32Array;
  }

  it('ignores fc.* and num_batches_tracked', () => {
    const state = fixture();
    state.set('fc.weight', { dtype: 'F32', shape: [10, 32], data: new Float32Array(320) });
    state.set('fc.bias', { dtype: 'F32', shape: [10], data: new Float32Array(10) });
    const model = resnet(config);
    const report = importTorchvisionWeights(model, state);
    expect(report.ignored).toContain('fc.weight');
    expect(report.ignored).toContain('bn1.num_batches_tracked');
    expect(report.unexpected).toEqual([]);
    model.dispose();
  });

  it('in strict mode names missing and unexpected keys and changes nothing', () => {
    const state = fixture();
    state.delete('layer2.0.downsample.1.running_var');
    state.set('layer9.0.conv1.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    const model = resnet(config);
    const before = kernelOf(model, 'conv1');
    expect(() => importTorchvisionWeights(model, state)).toThrow(
      /missing keys: layer2\.0\.downsample\.1\.running_var.*unexpected keys: layer9\.0\.conv1\.weight/,
    );
    expect(Array.from(kernelOf(model, 'conv1'))).toEqual(Array.from(before));
    model.dispose();
  });

  it('when not strict loads what matches and reports the rest', () => {
    const state = fixture();
    state.delete('layer2.0.downsample.1.running_var');
    state.set('extra.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    const model = resnet(config);
    const report = importTorchvisionWeights(model, state, { strict: false });
    expect(report.missing).toEqual(['layer2.0.downsample.1.running_var']);
    expect(report.unexpected).toEqual(['extra.weight']);
    const w = get(state, 'conv1.weight');
    expect(Array.from(kernelOf(model, 'conv1'))).toEqual(
      Array.from(oihwToHwio(w.data as Float32Array, w.shape)),
    );
    model.dispose();
  });

  it('rejects a mis-shaped key, an integer dtype and NaN, naming the key', () => {
    const model = resnet(config);
    const bad = (key: string, t: SafeTensor): StateDict => {
      const s = fixture();
      s.set(key, t);
      return s;
    };
    expect(() =>
      importTorchvisionWeights(
        model,
        bad('layer1.0.conv1.weight', {
          dtype: 'F32',
          shape: [4, 4, 1, 1],
          data: new Float32Array(16),
        }),
        {
          strict: false,
        },
      ),
    ).toThrow(
      /'layer1\.0\.conv1\.weight' has shape \[4, 4, 1, 1\]; the model expects \[4, 4, 3, 3\]/,
    );
    expect(() =>
      importTorchvisionWeights(
        model,
        bad('bn1.weight', { dtype: 'I64', shape: [4], data: new BigInt64Array(4) }),
      ),
    ).toThrow(/'bn1\.weight' has dtype I64/);
    const nan = Float32Array.of(1, 1, NaN, 1);
    expect(() =>
      importTorchvisionWeights(
        model,
        bad('bn1.running_var', { dtype: 'F32', shape: [4], data: nan }),
      ),
    ).toThrow(/'bn1\.running_var' holds NaN at flat index 2/);
    model.dispose();
  });
});

describe('exportTorchvisionWeights', () => {
  it('writes conv kernels OIHW, BN in torch naming, num_batches_tracked as I64', () => {
    const config: ResNetConfig = { depth: 18, stem: 'small', widthMultiplier: 2 / 64, seed: 5 };
    const model = resnet(config);
    const state = exportTorchvisionWeights(model, config, { numBatchesTracked: 3 });
    const kernel = model.getLayer('layer1.0.conv2').getWeights()[0]!;
    const k = kernel.dataSync();
    const w = get(state, 'layer1.0.conv2.weight');
    expect(w.shape).toEqual([2, 2, 3, 3]);
    // torch [o=1, i=0, y=2, x=1] is tfjs [2, 1, 0, 1]
    expect(w.data[((1 * 2 + 0) * 3 + 2) * 3 + 1]).toBe(k[((2 * 3 + 1) * 2 + 0) * 2 + 1]);
    expect(Array.from(get(state, 'bn1.running_var').data as Float32Array)).toEqual([1, 1]);
    expect(get(state, 'bn1.num_batches_tracked')).toEqual({
      dtype: 'I64',
      shape: [],
      data: BigInt64Array.of(3n),
    });
    expect(() => exportTorchvisionWeights(model, { ...config, depth: 34 })).toThrow(
      /no weight for torchvision key 'layer1\.2\.conv1\.weight'/,
    );
    expect(() => exportTorchvisionWeights(model, { ...config, widthMultiplier: 4 / 64 })).toThrow(
      /'conv1\.weight' has torch shape \[2, 3, 3, 3\]; the config implies \[4, 3, 3, 3\]/,
    );
    model.dispose();
  });
});
