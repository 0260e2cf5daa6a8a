import { SWIFTSHADER_ICD } from '@ediy/backend';
import { hasSwiftShader, probeWebGpuAdapter } from '@ediy/backend/node';
import type { GpuAdapterReport } from '@ediy/backend';

/**
 * Finds a WebGPU adapter for the tests: the machine's own, else SwiftShader from Debian's
 * chromium package (by pointing VK_ICD_FILENAMES at it, which Dawn's Vulkan loader reads
 * when it starts). Returns the reason to skip when there is none, and prints it.
 */
export async function findTestAdapter(): Promise<{ adapter?: GpuAdapterReport; skip?: string }> {
  let probe = await probeWebGpuAdapter();
  if (!probe.adapter && !process.env.VK_ICD_FILENAMES && hasSwiftShader()) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    probe = await probeWebGpuAdapter();
  }
  if (probe.adapter) return { adapter: probe.adapter };
  const skip = `webgpu tests skipped: ${probe.reason ?? 'no adapter'}. On Debian, apt-get install chromium libvulkan1 provides a software adapter (${SWIFTSHADER_ICD}).`;
  console.warn(skip);
  return { skip };
}
