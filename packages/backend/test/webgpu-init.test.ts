import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeAdapter, initBackend, webGpuAdapter } from '@ediy/backend';
import { findTestAdapter } from './webgpu-helpers.js';

const { adapter, skip } = await findTestAdapter();

describe.skipIf(skip !== undefined)(`initBackend on webgpu (${skip ?? 'adapter found'})`, () => {
  // Order matters: auto and the failing case run before the backend is set up in-process.
  it('auto never picks a software adapter, and says it skipped one', async () => {
    const info = await initBackend({ prefer: 'auto' });
    if (adapter?.isFallbackAdapter) {
      expect(info.name).not.toBe('webgpu');
      expect(info.warnings.join('\n')).toMatch(/skipped the software WebGPU adapter \(google/);
    } else {
      // a real GPU: taken first (pre-training and evaluation both run there)
      expect(info.name).toBe('webgpu');
      expect(info.device).toBe('gpu');
    }
  });

  it('an explicit webgpu without any adapter is an error naming what to install', async () => {
    const saved = process.env.VK_ICD_FILENAMES;
    process.env.VK_ICD_FILENAMES = '/nonexistent/icd.json';
    try {
      await expect(initBackend({ prefer: 'webgpu' })).rejects.toThrow(
        /backend 'webgpu' failed to initialise: Dawn found no WebGPU adapter on this machine: install webgpu and @tensorflow\/tfjs-backend-webgpu.*apt-get install chromium libvulkan1/,
      );
    } finally {
      if (saved === undefined) delete process.env.VK_ICD_FILENAMES;
      else process.env.VK_ICD_FILENAMES = saved;
    }
  });

  it('prefer webgpu takes the adapter and reports it', async () => {
    const info = await initBackend({ prefer: 'webgpu' });
    expect(tf.getBackend()).toBe('webgpu');
    expect(info).toMatchObject({
      name: 'webgpu',
      tfjsBackend: 'webgpu',
      package: '@tensorflow/tfjs-backend-webgpu',
      adapter,
    });
    expect(webGpuAdapter()).toEqual(adapter);
    expect(info.device).toBe(adapter?.isFallbackAdapter ? 'cpu' : 'gpu');
    if (adapter?.isFallbackAdapter) {
      expect(adapter.architecture).toBe('swiftshader');
      expect(info.warnings.join('\n')).toContain(
        `the WebGPU adapter is a software fallback (${describeAdapter(adapter)})`,
      );
    }
    const y = tf.square(tf.tensor1d([1, -2, 3]));
    expect(Array.from(await y.data())).toEqual([1, 4, 9]);
    y.dispose();
  });

  it('a second init reuses the backend, and auto still skips a software adapter', async () => {
    await initBackend({ prefer: 'cpu' });
    const again = await initBackend({ prefer: 'webgpu' });
    expect(again.adapter).toEqual(adapter);
    const auto = await initBackend({ prefer: 'auto' });
    if (adapter?.isFallbackAdapter) {
      expect(auto.name).not.toBe('webgpu');
    } else expect(auto.name).toBe('webgpu');
  });

  it('dataSync of a GPU tensor fails with an error that says to read asynchronously', async () => {
    await initBackend({ prefer: 'webgpu' });
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.mul(x, 2);
    expect(() => y.dataSync()).toThrow(/use await tensor.data\(\)/);
    expect(Array.from(await y.data())).toEqual([2, 4, 6]);
    const onCpu = tf.tensor1d([4, 5]); // not yet uploaded: its values are still readable
    expect(Array.from(onCpu.dataSync())).toEqual([4, 5]);
    tf.dispose([x, y, onCpu]);
    tf.env().set('WEBGPU_CPU_FORWARD', true);
  });
});
