/**
 * Matrix products with a transposed operand on the wasm backend. tfjs-backend-wasm
 * hands `matMul(a, b, true, false)` and `matMul(a, b, false, true)` to a slow loop
 * instead of XNNPACK; training meets them in the gradient of every dense layer
 * (`dW = x^T dy`, `dx = dy W^T`). Transposing the operand first and multiplying plainly
 * gives the same numbers an order of magnitude faster (x [64,256], dy [64,1024]:
 * `x^T dy` 356 ms as a transposed product, 6 ms as transpose + product).
 */
import {
  BatchMatMul,
  Transpose,
  getKernel,
  registerKernel,
  unregisterKernel,
} from '@tensorflow/tfjs-core';
import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

let installed: KernelConfig | undefined;

/**
 * Replaces the wasm `BatchMatMul` kernel by one that transposes a transposed operand
 * explicitly (wasm's `Transpose`) and then runs the original kernel without transposes.
 * Products without transposes run the original kernel unchanged. Safe to call
 * repeatedly; affects only the `wasm` backend. `initBackend` installs it when it selects wasm.
 * @returns whether this call installed it (false when installed already or wasm is not loaded).
 */
export function useFastTransposedMatMul(): boolean {
  const original = getKernel(BatchMatMul, 'wasm');
  if (original === undefined || original === installed) return false;
  // The native engine's matrix product reads transposed operands in place already.
  if ((original as { ediyNative?: boolean }).ediyNative === true) return false;
  const kernelFunc: KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original.kernelFunc(args);
    const transpose = getKernel(Transpose, 'wasm');
    if (transpose === undefined) return original.kernelFunc(args);
    const made: TensorInfo[] = [];
    const swapLast = (t: TensorInfo): TensorInfo => {
      const perm = t.shape.map((_, i) => i);
      const r = perm.length;
      [perm[r - 2], perm[r - 1]] = [r - 1, r - 2];
      const out = transpose.kernelFunc({
        inputs: { x: t },
        backend: args.backend,
        attrs: { perm },
      }) as TensorInfo;
      made.push(out);
      return out;
    };
    try {
      return original.kernelFunc({
        ...args,
        inputs: { a: transposeA ? swapLast(a) : a, b: transposeB ? swapLast(b) : b },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      for (const t of made) (args.backend as KernelBackend).disposeData(t.dataId);
    }
  };
  installed = {
    kernelName: BatchMatMul,
    backendName: 'wasm',
    kernelFunc,
    ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
  };
  unregisterKernel(BatchMatMul, 'wasm');
  registerKernel(installed);
  return true;
}
