/**
 * What ediy knows about a WebGPU adapter, without touching one: the report type, how it
 * is described, and which adapter the `webgpu` backend runs on. Browser-safe; setting an
 * adapter up in Node (Dawn) is in `webgpu.ts`, behind `@ediy/backend/node`.
 */

/** What the WebGPU adapter says about itself (`GPUAdapterInfo`). */
export interface GpuAdapterReport {
  /** The vendor, e.g. `nvidia`, `amd`, `intel`, `apple`, `google` (SwiftShader). */
  vendor: string;
  /** The GPU family, e.g. `ampere`, `rdna-3`, `swiftshader`. */
  architecture: string;
  /** The device identifier, often empty. */
  device: string;
  /** The driver's description, e.g. `SwiftShader driver 5.0.0`. */
  description: string;
  /** Whether this is a software (CPU) fallback adapter rather than a real GPU. */
  isFallbackAdapter: boolean;
}

/** Where Debian's `chromium` package installs the SwiftShader Vulkan driver's manifest. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** The npm packages the `webgpu` backend needs, and how to get a software adapter. */
export const WEBGPU_INSTALL_HINT =
  'install webgpu and @tensorflow/tfjs-backend-webgpu (npm i webgpu @tensorflow/tfjs-backend-webgpu@4.22.0); without a GPU driver, a software adapter comes from apt-get install chromium libvulkan1 and VK_ICD_FILENAMES=' +
  SWIFTSHADER_ICD +
  ' (see docs/gpu.md)';

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render/i;

/** @internal The part of a `GPUAdapter` that {@link reportOf} reads. */
export interface AdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
}

/**
 * @internal Reads a `GPUAdapter` into a plain report; a SwiftShader/llvmpipe adapter counts
 * as fallback.
 */
export function reportOf(adapter: AdapterLike): GpuAdapterReport {
  const info = adapter.info ?? {};
  const str = (key: string) => (typeof info[key] === 'string' ? info[key] : '');
  const report = {
    vendor: str('vendor'),
    architecture: str('architecture'),
    device: str('device'),
    description: str('description'),
  };
  const flagged = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
  const software = SOFTWARE.test(`${report.architecture} ${report.description} ${report.device}`);
  return { ...report, isFallbackAdapter: flagged || software };
}

/** One line naming an adapter: `google swiftshader (SwiftShader driver 5.0.0), fallback`. */
export function describeAdapter(a: GpuAdapterReport): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  return `${name}${a.description ? ` (${a.description})` : ''}${a.isFallbackAdapter ? ', software fallback' : ''}`;
}

let current: GpuAdapterReport | undefined;

/**
 * The adapter the `webgpu` backend runs on, once `initBackend` set it up.
 * @returns `undefined` before that.
 */
export function webGpuAdapter(): GpuAdapterReport | undefined {
  return current;
}

/** @internal Records the adapter the `webgpu` backend was set up on. */
export function setWebGpuAdapter(report: GpuAdapterReport): void {
  current = report;
}

/**
 * Why `auto` would not take webgpu on a real GPU adapter: `undefined`, since every command
 * runs there (pre-training and evaluation read tensors asynchronously), so `auto` takes a
 * real (non-fallback) adapter first. It said why not while evaluation read synchronously.
 * @deprecated always `undefined`; kept so that code reading it still compiles.
 */
export const WEBGPU_AUTO_BLOCKER: string | undefined = undefined;
