/**
 * `auto` and a real GPU adapter while evaluation cannot run on webgpu: no GPU is needed,
 * the adapter Dawn would give is recorded as a real one.
 */
import { describe, expect, it } from 'vitest';
import { WEBGPU_AUTO_BLOCKER } from '@ediy/backend';
import { webGpuPackagesInstalled } from '@ediy/backend/node';
import { setWebGpuAdapter } from '../src/gpu-adapter.js';
import { loadWebGpu } from '../src/webgpu.js';

const installed = webGpuPackagesInstalled();

describe.skipIf(!installed)('auto on a real GPU adapter', () => {
  it('does not take webgpu while evaluation reads synchronously, and names the adapter and why', async () => {
    expect(WEBGPU_AUTO_BLOCKER).toMatch(/evaluation/);
    setWebGpuAdapter({
      vendor: 'nvidia',
      architecture: 'ampere',
      device: '',
      description: 'test adapter',
      isFallbackAdapter: false,
    });
    const warnings: string[] = [];
    expect(await loadWebGpu(warnings, true)).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('nvidia');
    expect(warnings[0]).toContain(WEBGPU_AUTO_BLOCKER);
    expect(warnings[0]).toContain('--backend webgpu');
  });
});
