/**
 * `@ediy/backend`: the runtime every ediy package stands on. It picks and prepares a
 * TensorFlow.js backend (registering the gradient kernels tfjs-backend-wasm lacks),
 * and re-exports, deprecated, the seeded random streams and shape checks that moved to
 * `@ediy/core`. This entry imports no Node built-in and bundles for the browser; probing
 * the machine for Node-only backends (CUDA libraries, Dawn's WebGPU adapter) is
 * `@ediy/backend/node`.
 * @packageDocumentation
 */
export {
  currentBackend,
  ensureGradients,
  initBackend,
  nativeEngineStatus,
  tensorflowUsesGpu,
  type BackendInfo,
  type BackendName,
  type BackendPreference,
  type InitBackendOptions,
} from './init.js';
export * from './kernel-names.js';
export * from './kernels/index.js';
export * from './core-compat.js';
/**
 * The device-side input checks of `@ediy/core`: a loop that runs on a GPU backend opens a
 * scope and reads the checks with its own values.
 */
export {
  checkOnDevice,
  defersChecks,
  DeviceChecks,
  withDeviceChecks,
  type CheckJudge,
  type CheckValues,
} from '@ediy/core';
export {
  describeAdapter,
  SWIFTSHADER_ICD,
  webGpuAdapter,
  WEBGPU_AUTO_BLOCKER,
  WEBGPU_INSTALL_HINT,
  type GpuAdapterReport,
} from './gpu-adapter.js';
export type { NativeEngineReport } from './native.js';
