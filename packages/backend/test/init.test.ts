import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { CUDA11_LIBRARIES, initBackend, missingCudaLibraries } from '@ediy/backend';

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

  it('falls back from tensorflow under auto and says why', async () => {
    const info = await initBackend({ prefer: 'auto' });
    // tfjs-node is not installed on this project's machines: wasm is the portable default.
    expect(info.name).toBe('wasm');
    expect(info.warnings.join('\n')).toMatch(/tfjs-node\(-gpu\) not installed/);
  });

  it('throws a clear error for an explicit backend that is not installed', async () => {
    await expect(initBackend({ prefer: 'tensorflow' })).rejects.toThrow(
      /backend 'tensorflow' is not available: install @tensorflow\/tfjs-node-gpu/,
    );
  });

  it('rejects an unknown backend name', async () => {
    await expect(initBackend({ prefer: 'webgpu' as never })).rejects.toThrow(
      'backend must be one of auto, tensorflow, wasm, cpu; got "webgpu"',
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
