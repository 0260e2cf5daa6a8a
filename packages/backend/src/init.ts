/**
 * Backend selection: tfjs-node-gpu, then tfjs-node (optional peers), then the portable
 * WebAssembly backend, then the pure-JS cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { registerWasmTrainingKernels, useFastTransposedMatMul } from './kernels/index.js';
import { loadWebGpu, WEBGPU_INSTALL_HINT, type GpuAdapterReport } from './webgpu.js';
import { disableNative, enableNative } from './native.js';

/**
 * Makes sure tfjs has its gradient functions. The Node build of tfjs-core registers
 * none, and its ESM `register_all_gradients` module cannot be imported under Node; the
 * Node build of tfjs-layers registers all of them when loaded, so this loads it when
 * `tf.grad` would otherwise fail with "gradient function not found".
 * @returns whether gradients are registered afterwards.
 */
export async function ensureGradients(): Promise<boolean> {
  if (tf.getGradient('Sum') !== undefined) return true;
  await tryImport('@tensorflow/tfjs-layers');
  return tf.getGradient('Sum') !== undefined;
}

/**
 * A backend family ediy can run on. `tensorflow` means libtensorflow through tfjs-node(-gpu);
 * `webgpu` means tfjs-backend-webgpu on Dawn (npm `webgpu`); `native` means the wasm
 * backend with its heavy kernels run by oneDNN on all cores (`@ediy/backend-native`);
 * `wasm` the plain wasm backend (XNNPACK, one thread).
 */
export type BackendName = 'webgpu' | 'tensorflow' | 'native' | 'wasm' | 'cpu';

/**
 * What {@link initBackend} may choose from. `auto` tries a real (not software) WebGPU
 * adapter, then tensorflow, wasm, cpu in turn.
 */
export type BackendPreference = BackendName | 'auto';

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Which backend to use; `auto` (default) picks the fastest that loads. */
  prefer?: BackendPreference;
  /** Print the chosen backend and any warnings with `console.warn` (default false). */
  verbose?: boolean;
  /**
   * On `native`: OpenMP threads inside each kernel (default: every core). A given count
   * gives the same results bit for bit.
   */
  threads?: number;
}

/** What {@link initBackend} really got. */
export interface BackendInfo {
  /** The backend family in use. */
  name: BackendName;
  /** The tfjs backend name (`tensorflow`, `wasm`, `cpu`). */
  tfjsBackend: string;
  /** Where the kernels really run. */
  device: 'gpu' | 'cpu';
  /** The npm package that provides the backend. */
  package: string;
  /** Human-readable notes: fallbacks taken, GPU libraries missing, and so on. */
  warnings: string[];
  /** On `webgpu`: the adapter it runs on (vendor, architecture, software fallback or not). */
  adapter?: GpuAdapterReport;
  /** On `native`: `wasm + oneDNN 2.6.3 (2 threads, avx2)`. */
  engine?: string;
  /** On `native`: OpenMP threads inside each kernel. */
  threads?: number;
}

/** The CUDA 11.2 / cuDNN 8.1 libraries libtensorflow 2.9.1 (tfjs-node-gpu 4.x) dlopens. */
export const CUDA11_LIBRARIES = [
  'libcudart.so.11.0',
  'libcublas.so.11',
  'libcublasLt.so.11',
  'libcufft.so.10',
  'libcurand.so.10',
  'libcusolver.so.11',
  'libcusparse.so.11',
  'libcudnn.so.8',
] as const;

/**
 * Looks for the CUDA 11 libraries tfjs-node-gpu needs, in LD_LIBRARY_PATH and the
 * dynamic linker cache. tfjs-node-gpu does not fail without them: libtensorflow logs a
 * warning and runs every op on the CPU, so this check is how ediy tells the two apart.
 * @returns the libraries that could not be found (empty when a GPU run is possible).
 */
export function missingCudaLibraries(env: NodeJS.ProcessEnv = process.env): string[] {
  const found = new Set<string>();
  for (const dir of (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) {
    try {
      for (const f of readdirSync(dir)) found.add(f);
    } catch {
      // unreadable directory: nothing found there
    }
  }
  try {
    const cache = execFileSync('ldconfig', ['-p'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const line of cache.split('\n')) {
      const lib = line.trim().split(' ')[0];
      if (lib) found.add(lib);
    }
  } catch {
    // no ldconfig: rely on LD_LIBRARY_PATH alone
  }
  return CUDA11_LIBRARIES.filter((lib) => !found.has(lib));
}

/** Whether an NVIDIA device node exists (a driver is loaded). */
export function hasNvidiaDevice(): boolean {
  return existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl');
}

async function tryImport(name: string): Promise<unknown | undefined> {
  try {
    return await import(name);
  } catch {
    return undefined;
  }
}

/**
 * Whether a tfjs-node(-gpu) backend really runs its kernels on a GPU, as libtensorflow
 * itself reports it (`NodeJSKernelBackend.isUsingGpuDevice`, set from the devices
 * libtensorflow created at start-up), rather than guessed from library file names.
 */
export function tensorflowUsesGpu(backend: unknown = tf.backend()): boolean {
  return (backend as { isUsingGpuDevice?: unknown } | null)?.isUsingGpuDevice === true;
}

async function initTensorflow(
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

async function initWasm(warnings: string[]): Promise<BackendInfo | undefined> {
  if (!(await tryImport('@tensorflow/tfjs-backend-wasm'))) return undefined;
  await disableNative();
  registerWasmTrainingKernels();
  useFastTransposedMatMul();
  if (!(await tf.setBackend('wasm'))) return undefined;
  await tf.ready();
  return {
    name: 'wasm',
    tfjsBackend: 'wasm',
    device: 'cpu',
    package: '@tensorflow/tfjs-backend-wasm',
    warnings,
  };
}

async function initNative(
  warnings: string[],
  threads: number | undefined,
): Promise<BackendInfo | undefined> {
  const wasm = await initWasm(warnings);
  if (!wasm) return undefined;
  const engine = await enableNative(warnings, threads);
  if (!engine) return undefined;
  return {
    ...wasm,
    name: 'native',
    package: '@ediy/backend-native',
    engine: engine.summary,
    threads: engine.threads,
  };
}

async function initCpu(warnings: string[]): Promise<BackendInfo | undefined> {
  if (!(await tryImport('@tensorflow/tfjs-backend-cpu'))) return undefined;
  if (!(await tf.setBackend('cpu'))) return undefined;
  await tf.ready();
  return {
    name: 'cpu',
    tfjsBackend: 'cpu',
    device: 'cpu',
    package: '@tensorflow/tfjs-backend-cpu',
    warnings,
  };
}

const INSTALL_HINT: Record<BackendName, string> = {
  webgpu: WEBGPU_INSTALL_HINT,
  tensorflow:
    'install @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node (their install downloads libtensorflow; see docs/gpu.md for an offline install)',
  native:
    'install oneDNN (Debian/Ubuntu: apt-get install libdnnl-dev; macOS: brew install onednn), then npm rebuild @ediy/backend-native',
  wasm: 'install @tensorflow/tfjs-backend-wasm',
  cpu: 'install @tensorflow/tfjs-backend-cpu',
};

let current: BackendInfo | undefined;

/**
 * What the last successful {@link initBackend} call of this thread chose (`undefined`
 * before the first). A worker thread that must compute like this one (the trainer's
 * replica) initialises the same backend from it: `tf.getBackend()` says `wasm` for both
 * the plain wasm backend and the native engine.
 */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

/**
 * Selects and initialises a tfjs backend.
 *
 * With `prefer: 'auto'` it tries `webgpu` (only on a real GPU adapter, never a software
 * fallback), then `tensorflow` (tfjs-node-gpu, then tfjs-node, when installed), then
 * `native` (oneDNN under wasm, when `@ediy/backend-native` is built), then `wasm`, then
 * `cpu`, and reports every fallback in `warnings` (one line says why `native` was not
 * used and how to get it). An
 * explicit preference that cannot be satisfied throws, naming the backend and how to
 * install it. On wasm it registers the gradient kernels training needs.
 *
 * @example
 * ```ts
 * const info = await initBackend({ prefer: 'wasm' });
 * console.log(info.name, info.device);
 * ```
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const prefer = options.prefer ?? 'auto';
  const loaders: Record<BackendName, (w: string[]) => Promise<BackendInfo | undefined>> = {
    webgpu: (w) => loadWebGpu(w, prefer === 'auto'),
    tensorflow: (w) => initTensorflow(w, prefer === 'auto'),
    native: (w) => initNative(w, options.threads),
    wasm: initWasm,
    cpu: initCpu,
  };
  if (prefer !== 'auto' && !(prefer in loaders)) {
    throw new Error(
      `backend must be one of auto, webgpu, tensorflow, native, wasm, cpu; got ${JSON.stringify(prefer)}`,
    );
  }
  const order: BackendName[] =
    prefer === 'auto' ? ['webgpu', 'tensorflow', 'native', 'wasm', 'cpu'] : [prefer];
  const warnings: string[] = [];
  for (const name of order) {
    let info: BackendInfo | undefined;
    try {
      info = await loaders[name](warnings);
    } catch (err) {
      if (prefer !== 'auto') {
        throw new Error(`backend '${name}' failed to initialise: ${(err as Error).message}`, {
          cause: err,
        });
      }
      warnings.push(`backend '${name}' failed to initialise: ${(err as Error).message}`);
    }
    if (info) {
      current = info;
      if (!(await ensureGradients())) {
        info.warnings.push(
          'no gradient functions are registered: install @tensorflow/tfjs-layers to train',
        );
      }
      if (options.verbose) {
        console.warn(
          `ediy: backend ${info.name} (${info.engine ?? info.package}) on ${info.device}`,
        );
        for (const w of info.warnings) console.warn(`ediy: ${w}`);
      }
      return info;
    }
    if (prefer !== 'auto') {
      throw new Error(`backend '${name}' is not available: ${INSTALL_HINT[name]}`);
    }
    if (name === 'tensorflow')
      warnings.push('tfjs-node(-gpu) not installed; using a portable backend');
  }
  throw new Error('no tfjs backend could be initialised: install @tensorflow/tfjs-backend-wasm');
}
