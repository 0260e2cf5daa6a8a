/**
 * `@ediy/backend-native`: oneDNN under tfjs-backend-wasm. Convolutions (plain, fused with
 * bias and activation, depthwise), their input and filter gradients, matrix products and
 * whole-map average pooling run in oneDNN on all cores, and BatchNorm, ReLU, copies,
 * leading-axis sums and float32 element-wise arithmetic in the addon's own loops there,
 * reading and writing the wasm backend's tensors in place; every other op stays on wasm.
 * @packageDocumentation
 */
import { availableParallelism } from 'node:os';
import { loadAddon, NATIVE_INSTALL_HINT, type ConvolutionLayout } from './addon.js';
import { registerKernels, unregisterKernels, NATIVE_KERNELS } from './kernels.js';

export { NATIVE_INSTALL_HINT, ADDON_PATH } from './addon.js';
export type { AddonInfo, ConvolutionLayout } from './addon.js';
export {
  NATIVE_KERNELS,
  BATCH_NORM_KERNELS,
  RELU_GRAD_KERNEL,
  ADD_RELU_KERNEL,
  UPDATE_KERNELS,
  HUE_KERNEL,
  nativeKernelStats,
  resetNativeKernelStats,
  replacedKernel,
} from './kernels.js';
export type { NativeKernelStats } from './kernels.js';

/** Options of {@link enableNativeEngine}. */
export interface NativeEngineOptions {
  /**
   * OpenMP threads inside each native kernel, for the calling thread (default:
   * {@link defaultThreads}). A given count gives the same results bit for bit.
   */
  threads?: number;
  /**
   * The activation layout of the convolutions, for the calling thread (default:
   * `EDIY_DNNL_LAYOUT`, else `nhwc`). Both give the same results within float rounding.
   */
  layout?: ConvolutionLayout;
}

/**
 * The thread count used when none is given: `EDIY_THREADS`, else `OMP_NUM_THREADS`, else
 * every core (`os.availableParallelism()`).
 */
export function defaultThreads(env: NodeJS.ProcessEnv = process.env): number {
  for (const name of ['EDIY_THREADS', 'OMP_NUM_THREADS'] as const) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`${name} must be a whole number >= 1, got ${JSON.stringify(raw)}`);
    }
    return n;
  }
  return availableParallelism();
}

/** What the native engine is and does in this thread. */
export interface NativeEngineStatus {
  /** oneDNN's version. */
  version: string;
  /** The instruction set oneDNN runs on this CPU. */
  isa: string;
  /** OpenMP threads per kernel in this thread. */
  threads: number;
  /** The activation layout of its convolutions in this thread. */
  layout: ConvolutionLayout;
  /** The wasm kernels it provides. */
  kernels: readonly string[];
}

/**
 * Whether the addon is built and loads here.
 * @returns `{ available: true }`, or `{ available: false, reason }` with the reason and
 * how to get it.
 */
export function nativeEngineAvailability(): { available: boolean; reason?: string } {
  const { addon, reason } = loadAddon();
  return addon ? { available: true } : { available: false, reason: reason ?? NATIVE_INSTALL_HINT };
}

/**
 * Registers the native kernels for the `wasm` backend and sets their thread count. Call
 * it after `@tensorflow/tfjs-backend-wasm` is imported (its import registers its own
 * kernels); `@ediy/backend`'s `initBackend({ prefer: 'native' })` does all of this.
 * @throws when the addon is not built or does not load, saying how to get it.
 */
export function enableNativeEngine(options: NativeEngineOptions = {}): NativeEngineStatus {
  const { addon, reason } = loadAddon();
  if (!addon) throw new Error(`native engine unavailable: ${reason ?? NATIVE_INSTALL_HINT}`);
  const threads = options.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`native engine: threads must be a whole number >= 1, got ${String(threads)}`);
  }
  if (options.layout !== undefined && options.layout !== 'nhwc' && options.layout !== 'blocked') {
    throw new Error(
      `native engine: layout must be 'nhwc' or 'blocked', got ${JSON.stringify(options.layout)}`,
    );
  }
  addon.setThreads(threads);
  if (options.layout !== undefined) addon.setConvLayout(options.layout);
  registerKernels(addon);
  const info = addon.info();
  return {
    version: info.version,
    isa: info.isa,
    threads: info.threads,
    layout: info.convLayout,
    kernels: NATIVE_KERNELS,
  };
}

/**
 * Puts back the wasm kernels the native engine replaced (to compare the two paths).
 * @returns the kernel names restored.
 */
export function disableNativeEngine(): string[] {
  return unregisterKernels();
}
