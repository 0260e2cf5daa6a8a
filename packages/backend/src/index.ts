/**
 * `@ediy/backend`: the runtime every ediy package stands on. It picks and prepares a
 * TensorFlow.js backend (registering the gradient kernels tfjs-backend-wasm lacks),
 * and provides seeded random streams and shape checks.
 * @packageDocumentation
 */
export * from './init.js';
export * from './kernel-names.js';
export * from './kernels/index.js';
export * from './random.js';
export * from './validate.js';
export * from './webgpu.js';
export { nativeEngineStatus } from './native.js';
export type { NativeEngineReport } from './native.js';
