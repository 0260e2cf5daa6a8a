/**
 * The backends `initBackend` can only set up in Node: libtensorflow through
 * tfjs-node(-gpu), the oneDNN engine under wasm (`@ediy/backend-native`) and WebGPU on
 * Dawn. `initBackend` imports this module only when it runs in Node, by a specifier
 * bundlers do not follow, so a browser bundle of `@ediy/backend` never contains it.
 * @internal
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { hasNvidiaDevice, missingCudaLibraries } from './cuda.js';
import { tensorflowUsesGpu, tryImport, type BackendInfo } from './init.js';
import { disableNative, enableNative, nativeEngineStatus } from './native.js';

export { loadWebGpu } from './webgpu.js';
export { disableNative, nativeEngineStatus };

/** @internal tfjs-node-gpu, then tfjs-node; `undefined` when neither is installed. */
export async function initTensorflow(
  warnings: string[],
  gpuOnly = false,
): Promise<BackendInfo | undefined> {
  // tfjs-node-gpu first: it is what a GPU user installs; tfjs-node is the CPU build.
  if (await tryImport('@tensorflow/tfjs-node-gpu')) {
    await tf.setBackend('tensorflow');
    await tf.ready();
    const gpu = tensorflowUsesGpu();
    if (!gpu) {
      // libtensorflow has no GPU device: say the likely cause.
      const missing = missingCudaLibraries();
      warnings.push(
        missing.length > 0
          ? `@tensorflow/tfjs-node-gpu loaded but runs on the CPU: CUDA 11.2/cuDNN 8.1 libraries not found (${missing.join(', ')}). See docs/gpu.md.`
          : hasNvidiaDevice()
            ? '@tensorflow/tfjs-node-gpu loaded but libtensorflow created no GPU device: it runs on the CPU. See docs/gpu.md.'
            : '@tensorflow/tfjs-node-gpu loaded but runs on the CPU: no NVIDIA device (/dev/nvidia0) found.',
      );
      if (gpuOnly) {
        warnings.push('skipped @tensorflow/tfjs-node-gpu on the CPU');
        return undefined;
      }
    }
    return {
      name: 'tensorflow',
      tfjsBackend: 'tensorflow',
      device: gpu ? 'gpu' : 'cpu',
      package: '@tensorflow/tfjs-node-gpu',
      warnings,
    };
  }
  if (await tryImport('@tensorflow/tfjs-node')) {
    await tf.setBackend('tensorflow');
    await tf.ready();
    return {
      name: 'tensorflow',
      tfjsBackend: 'tensorflow',
      device: 'cpu',
      package: '@tensorflow/tfjs-node',
      warnings,
    };
  }
  return undefined;
}

/**
 * @internal Turns the wasm backend `wasm` (already set up) into the native engine;
 * `undefined` when the engine is unavailable (the reason is in `warnings`).
 */
export async function addNativeEngine(
  wasm: BackendInfo,
  warnings: string[],
  threads: number | undefined,
): Promise<BackendInfo | undefined> {
  const engine = await enableNative(warnings, threads);
  if (!engine) return undefined;
  return {
    ...wasm,
    name: 'native',
    package: '@ediy/backend-native',
    engine: engine.summary,
    threads: engine.threads,
    isa: engine.isa,
  };
}
