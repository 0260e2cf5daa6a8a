/**
 * `@ediy/backend/node`: the Node-only part of `@ediy/backend`: probing the machine for
 * the backends only Node has (the CUDA libraries tfjs-node-gpu needs, an NVIDIA driver,
 * a WebGPU adapter from Dawn) and setting WebGPU up on Dawn directly. `initBackend` and
 * `nativeEngineStatus`, in the root entry, load what they need in Node by themselves; the
 * root entry imports no Node built-in and bundles for the browser.
 * @packageDocumentation
 */
export { CUDA11_LIBRARIES, hasNvidiaDevice, missingCudaLibraries } from './cuda.js';
export {
  hasSwiftShader,
  initWebGpu,
  probeWebGpuAdapter,
  webGpuPackagesInstalled,
  type InitWebGpuOptions,
  type WebGpuProbe,
} from './webgpu.js';
