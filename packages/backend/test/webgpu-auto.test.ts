/**
 * `auto` and a real GPU adapter, without a GPU: the software adapter sets the webgpu
 * backend up, then the adapter it runs on is recorded as a real one, which `auto` takes
 * first (evaluation reads asynchronously, so every command runs there). The real adapter
 * is then put back, and `auto` skips it again.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, WEBGPU_AUTO_BLOCKER, webGpuAdapter } from '@ediy/backend';
import { setWebGpuAdapter } from '../src/gpu-adapter.js';
import { findTestAdapter } from './webgpu-helpers.js';

const { adapter, skip } = await findTestAdapter();

describe.skipIf(skip !== undefined)(`auto on a real GPU adapter (${skip ?? 'faked'})`, () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('takes webgpu first on a real adapter and names it, and skips a software one', async () => {
    expect(WEBGPU_AUTO_BLOCKER).toBeUndefined();
    await initBackend({ prefer: 'webgpu' });
    const found = webGpuAdapter();
    expect(found).toEqual(adapter);
    const real = {
      vendor: 'nvidia',
      architecture: 'ampere',
      device: '',
      description: 'test adapter',
      isFallbackAdapter: false,
    };
    await initBackend({ prefer: 'cpu' });
    setWebGpuAdapter(real);
    try {
      const info = await initBackend({ prefer: 'auto' });
      expect(info).toMatchObject({ name: 'webgpu', device: 'gpu', adapter: real });
      expect(tf.getBackend()).toBe('webgpu');
      expect(info.warnings.join('\n')).not.toMatch(/webgpu|WebGPU/);
    } finally {
      if (found) setWebGpuAdapter(found);
    }
    const again = await initBackend({ prefer: 'auto' });
    if (found?.isFallbackAdapter) {
      expect(again.name).not.toBe('webgpu');
      expect(again.warnings.join('\n')).toMatch(/skipped the software WebGPU adapter/);
    } else expect(again.name).toBe('webgpu');
  });
});
