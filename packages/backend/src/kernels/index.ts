/**
 * Kernels registered for tfjs-backend-wasm so that it can train a convolutional network.
 */
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2DBackpropInputConfig } from './conv2d-backprop-input.js';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwise-conv2d-backprop-filter.js';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwise-conv2d-backprop-input.js';
import { tileConfig } from './tile.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

export { useFastTransposedMatMul } from './batch-mat-mul.js';

const TRAINING_KERNELS: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  unsortedSegmentSumConfig,
  tileConfig,
];

/**
 * The kernels {@link registerWasmTrainingKernels} provides for the `wasm` backend:
 * `Conv2DBackpropFilter`, `UnsortedSegmentSum` (the gradient of `tf.gather`) and the
 * two depthwise-conv gradients, which tfjs-backend-wasm 4.22 lacks, and
 * `Conv2DBackpropInput` and `Tile`, which it has but runs an order of magnitude slower
 * than need be (`Tile` is on every batch-norm gradient).
 */
export const WASM_TRAINING_KERNELS: readonly string[] = TRAINING_KERNELS.map((k) => k.kernelName);

const replaced = new Map<string, KernelConfig>();

/**
 * Registers, once per process, the gradient kernels tfjs-backend-wasm lacks, and
 * replaces its slow `Conv2DBackpropInput` and `Tile` (see {@link WASM_TRAINING_KERNELS}). Call it
 * after importing `@tensorflow/tfjs-backend-wasm` (whose import registers its own
 * kernels, and would overwrite these). Safe to call repeatedly.
 * @returns the names of the kernels this call registered (empty after the first call).
 */
export function registerWasmTrainingKernels(): string[] {
  const done: string[] = [];
  for (const config of TRAINING_KERNELS) {
    const current = getKernel(config.kernelName, 'wasm');
    if (current === config) continue;
    if (current !== undefined) {
      // registerKernel would overwrite too, but with a warning: replace deliberately.
      replaced.set(config.kernelName, current);
      unregisterKernel(config.kernelName, 'wasm');
    }
    registerKernel(config);
    done.push(config.kernelName);
  }
  return done;
}

/**
 * The wasm kernel that {@link registerWasmTrainingKernels} replaced under `kernelName`
 * (`Conv2DBackpropInput` and `Tile` in tfjs-backend-wasm 4.22), for comparison and
 * benchmarks. Its `setupFunc` has not run if it was replaced before the wasm backend
 * was first set up: call `setupFunc(tf.backend())` before its `kernelFunc`.
 */
export function replacedWasmKernel(kernelName: string): KernelConfig | undefined {
  return replaced.get(kernelName);
}
