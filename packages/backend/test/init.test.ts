import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { initBackend, nativeEngineStatus, tensorflowUsesGpu } from '@ediy/backend';
import { CUDA11_LIBRARIES, missingCudaLibraries } from '@ediy/backend/node';

const installed = (name: string): boolean => {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
};
// The tensorflow tests depend on whether tfjs-node(-gpu) is installed here (it is not in
// this repository's lockfile, but a developer may have it).
const tfjsNode = installed('@tensorflow/tfjs-node');
const tfjsNodeGpu = installed('@tensorflow/tfjs-node-gpu');

describe('initBackend', () => {
  it('initialises wasm when asked and reports it', async () => {
    const info = await initBackend({ prefer: 'wasm' });
    expect(info).toMatchObject({
      name: 'wasm',
      device: 'cpu',
      package: '@tensorflow/tfjs-backend-wasm',
    });
    expect(tf.getBackend()).toBe('wasm');
  });

  it('initialises cpu when asked', async () => {
    const info = await initBackend({ prefer: 'cpu' });
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it.skipIf(tfjsNode || tfjsNodeGpu)(
    'falls back from tensorflow under auto and says why',
    async () => {
      const info = await initBackend({ prefer: 'auto' });
      // tfjs-node is not installed on this project's machines: the native engine when its
      // addon is built, else wasm, the portable default, with a line saying why.
      const native = await nativeEngineStatus();
      expect(info.name).toBe(native.available ? 'native' : 'wasm');
      expect(info.warnings.join('\n')).toMatch(/tfjs-node\(-gpu\) not installed/);
      if (!native.available) {
        expect(info.warnings.join('\n')).toMatch(/native engine unavailable: .*libdnnl-dev/);
      }
      await initBackend({ prefer: 'wasm' });
    },
  );

  it.skipIf(tfjsNode || tfjsNodeGpu)(
    'throws a clear error for an explicit backend that is not installed',
    async () => {
      await expect(initBackend({ prefer: 'tensorflow' })).rejects.toThrow(
        /backend 'tensorflow' is not available: install @tensorflow\/tfjs-node-gpu/,
      );
    },
  );

  it.runIf(tfjsNode || tfjsNodeGpu)(
    'with tfjs-node installed, tensorflow reports the device libtensorflow really uses',
    async () => {
      const info = await initBackend({ prefer: 'tensorflow' });
      expect(info.name).toBe('tensorflow');
      expect(info.device).toBe(tensorflowUsesGpu() ? 'gpu' : 'cpu');
      const auto = await initBackend({ prefer: 'auto' });
      // auto takes tfjs-node-gpu only on a GPU; the CPU build tfjs-node is taken as is
      if (info.device === 'cpu' && tfjsNodeGpu) expect(auto.name).not.toBe('tensorflow');
    },
  );

  it('asks the tfjs-node backend itself whether it runs on a GPU', async () => {
    expect(tensorflowUsesGpu({ isUsingGpuDevice: true })).toBe(true);
    expect(tensorflowUsesGpu({ isUsingGpuDevice: false })).toBe(false);
    expect(tensorflowUsesGpu({})).toBe(false);
    await initBackend({ prefer: 'wasm' });
    expect(tensorflowUsesGpu()).toBe(false);
  });

  it('rejects an unknown backend name', async () => {
    await expect(initBackend({ prefer: 'tpu' as never })).rejects.toThrow(
      /^backend must be one of auto, webgpu, tensorflow, .*wasm, cpu; got "tpu"$/,
    );
  });

  it('lists the CUDA 11 libraries it cannot find', () => {
    const missing = missingCudaLibraries({ LD_LIBRARY_PATH: '/nonexistent' });
    // this machine has no CUDA 11 runtime: every library is reported missing
    expect(missing).toEqual([...CUDA11_LIBRARIES]);
  });
});

describe('ensureGradients', () => {
  it('leaves tf.grad working after initBackend', async () => {
    await initBackend({ prefer: 'cpu' });
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([1, 2]));
    expect(Array.from(g.dataSync())).toEqual([2, 4]);
  });
});

describe('initBackend on the native engine', async () => {
  const native = await nativeEngineStatus();

  it.runIf(native.available)(
    'reports wasm + oneDNN and its threads; wasm puts the plain kernels back',
    async () => {
      const info = await initBackend({ prefer: 'native', threads: 1 });
      expect(info).toMatchObject({
        name: 'native',
        tfjsBackend: 'wasm',
        device: 'cpu',
        threads: 1,
      });
      expect(info.engine).toMatch(/^wasm \+ oneDNN \d+\.\d+\.\d+ \(1 thread, \w+\)$/);
      expect(info.isa).toMatch(/^\w+$/);
      expect(info.engine).toMatch(new RegExp(`, ${info.isa}\\)$`));
      expect(tf.getBackend()).toBe('wasm');
      expect((tf.getKernel('Conv2D', 'wasm') as { ediyNative?: boolean }).ediyNative).toBe(true);
      await initBackend({ prefer: 'wasm' });
      expect(
        (tf.getKernel('Conv2D', 'wasm') as { ediyNative?: boolean }).ediyNative,
      ).toBeUndefined();
    },
  );

  it.runIf(!native.available)('an explicit native preference says how to get it', async () => {
    await expect(initBackend({ prefer: 'native' })).rejects.toThrow(/libdnnl-dev/);
  });

  it.runIf(native.available)('rejects a thread count that is not a whole number', async () => {
    await expect(initBackend({ prefer: 'native', threads: 0 })).rejects.toThrow(
      /threads must be a whole number >= 1, got 0/,
    );
    await initBackend({ prefer: 'wasm' });
  });
});
