/**
 * Backend selection: webgpu, tfjs-node-gpu, then tfjs-node (optional peers), then the
 * portable WebAssembly backend, then the pure-JS cpu backend. Browser-safe: the backends
 * only Node has are set up by `node-loaders.ts`, imported only when running in Node.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmTrainingKernels, useFastTransposedMatMul } from './kernels/index.js';
import { WEBGPU_INSTALL_HINT, type GpuAdapterReport } from './gpu-adapter.js';
import type * as NodeLoaders from './node-loaders.js';

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
 * `wasm` the plain wasm backend (XNNPACK, one thread); `webgl` tfjs-backend-webgl, in a
 * browser only.
 */
export type BackendName = 'webgpu' | 'tensorflow' | 'native' | 'webgl' | 'wasm' | 'cpu';

/**
 * What {@link initBackend} may choose from. `auto` tries a real (not software) WebGPU
 * adapter, then tensorflow, native, wasm, cpu in turn (in a browser: webgpu, webgl, wasm, cpu).
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
  /**
   * On `native`: the instruction set oneDNN runs on this CPU (`avx2`, `avx512_core_bf16`,
   * ...), the one the engine line names; kernels of different sets may differ in the last bits.
   */
  isa?: string;
}

/**
 * @internal Imports an optional package by name; `undefined` when it is not installed.
 * The name is not a literal, so bundlers leave the import alone (in a browser, a backend
 * package is imported by the page itself, see {@link initBackend}).
 */
export async function tryImport(name: string): Promise<unknown | undefined> {
  try {
    return await import(/* @vite-ignore */ /* webpackIgnore: true */ name);
  } catch {
    return undefined;
  }
}

/** Whether this runs in Node (not a browser, not a web worker). */
function inNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

// Computed, so that bundlers do not follow it: node-loaders is Node-only. Run from the
// TypeScript sources (tests, tsx), the sibling is a .ts file; built, it is a .js file.
const NODE_LOADERS = `./node-loaders${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`;
let nodeLoaders: Promise<typeof NodeLoaders> | undefined;

/** The Node-only loaders, or `undefined` outside Node. */
async function loadNodeLoaders(): Promise<typeof NodeLoaders | undefined> {
  if (!inNode()) return undefined;
  nodeLoaders ??= import(/* @vite-ignore */ /* webpackIgnore: true */ NODE_LOADERS) as Promise<
    typeof NodeLoaders
  >;
  return nodeLoaders;
}

/**
 * Whether the tfjs backend `name` is registered, importing `pkg` (which registers it) when
 * it is not yet. In a browser the import by name fails, so there it is the page's own
 * `import '@tensorflow/tfjs-backend-...'` that makes a backend available.
 */
async function backendRegistered(name: string, pkg: string): Promise<boolean> {
  if (tf.findBackendFactory(name)) return true;
  return (await tryImport(pkg)) !== undefined && tf.findBackendFactory(name) !== undefined;
}

/**
 * Whether the native engine (`@ediy/backend-native`, oneDNN under wasm) can run here, and
 * if not, why (one line that says how to get it). Outside Node it never can.
 */
export async function nativeEngineStatus(): Promise<{ available: boolean; reason?: string }> {
  const node = await loadNodeLoaders();
  if (!node) return { available: false, reason: 'the native engine runs in Node only' };
  return node.nativeEngineStatus();
}

/** The `webgpu` entry of the loaders in a browser: the page imported tfjs-backend-webgpu. */
async function initBrowserWebGpu(warnings: string[]): Promise<BackendInfo | undefined> {
  const gpu = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
  if (gpu === undefined || !tf.findBackendFactory('webgpu')) return undefined;
  if (!(await tf.setBackend('webgpu'))) return undefined;
  await tf.ready();
  return {
    name: 'webgpu',
    tfjsBackend: 'webgpu',
    device: 'gpu',
    package: '@tensorflow/tfjs-backend-webgpu',
    warnings,
  };
}

/** The `webgl` entry of the loaders in a browser: the page imported tfjs-backend-webgl. */
async function initBrowserWebgl(warnings: string[]): Promise<BackendInfo | undefined> {
  if (!tf.findBackendFactory('webgl')) return undefined;
  if (!(await tf.setBackend('webgl'))) return undefined;
  await tf.ready();
  return {
    name: 'webgl',
    tfjsBackend: 'webgl',
    device: 'gpu',
    package: '@tensorflow/tfjs-backend-webgl',
    warnings,
  };
}

/**
 * Whether a tfjs-node(-gpu) backend really runs its kernels on a GPU, as libtensorflow
 * itself reports it (`NodeJSKernelBackend.isUsingGpuDevice`, set from the devices
 * libtensorflow created at start-up), rather than guessed from library file names.
 */
export function tensorflowUsesGpu(backend: unknown = tf.backend()): boolean {
  return (backend as { isUsingGpuDevice?: unknown } | null)?.isUsingGpuDevice === true;
}

async function initWasm(warnings: string[]): Promise<BackendInfo | undefined> {
  if (!(await backendRegistered('wasm', '@tensorflow/tfjs-backend-wasm'))) return undefined;
  await (await loadNodeLoaders())?.disableNative();
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

async function initCpu(warnings: string[]): Promise<BackendInfo | undefined> {
  if (!(await backendRegistered('cpu', '@tensorflow/tfjs-backend-cpu'))) return undefined;
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
  webgpu: inNode()
    ? WEBGPU_INSTALL_HINT
    : "in a browser, import '@tensorflow/tfjs-backend-webgpu' first, on a browser with WebGPU",
  tensorflow:
    'install @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node (their install downloads libtensorflow; see docs/gpu.md for an offline install)',
  native:
    'install oneDNN (Debian/Ubuntu: apt-get install libdnnl-dev; macOS: brew install onednn), then npm rebuild @ediy/backend-native',
  webgl: inNode()
    ? 'it runs in a browser only (in Node, use webgpu, native, wasm or cpu)'
    : "in a browser, import '@tensorflow/tfjs-backend-webgl' first, on a browser with WebGL",
  wasm: inNode()
    ? 'install @tensorflow/tfjs-backend-wasm'
    : "in a browser, import '@tensorflow/tfjs-backend-wasm' first",
  cpu: inNode()
    ? 'install @tensorflow/tfjs-backend-cpu'
    : "in a browser, import '@tensorflow/tfjs-backend-cpu' first",
};

/** Why the browser-only backend is not available here. */
const BROWSER_ONLY = 'it runs in a browser only (this is Node; use webgpu, native, wasm or cpu)';

/** Why a Node-only backend is not available here. */
const NODE_ONLY = 'it runs in Node only (this is a browser)';

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
 * In a browser (any runtime without `process.versions.node`) only `webgpu`, `webgl`, `wasm`
 * and `cpu` exist, and only once the page has imported their tfjs package (e.g.
 * `import '@tensorflow/tfjs-backend-cpu'`), which registers them; `tensorflow` and `native`
 * are Node-only, and nothing Node-only is part of a browser bundle of this package.
 * `webgl` (tfjs-backend-webgl) is browser-only: asked for in Node, it throws saying so.
 *
 * @example
 * ```ts
 * const info = await initBackend({ prefer: 'wasm' });
 * console.log(info.name, info.device);
 * ```
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const prefer = options.prefer ?? 'auto';
  const node = await loadNodeLoaders();
  const browserOnly = async (): Promise<undefined> => {
    if (prefer !== 'auto') throw new Error(BROWSER_ONLY);
    return undefined;
  };
  const nodeOnly =
    (load: (n: typeof NodeLoaders, w: string[]) => Promise<BackendInfo | undefined>) =>
    async (w: string[]) => {
      if (node) return load(node, w);
      if (prefer !== 'auto') throw new Error(NODE_ONLY);
      return undefined;
    };
  const loaders: Record<BackendName, (w: string[]) => Promise<BackendInfo | undefined>> = {
    webgpu: node ? (w) => node.loadWebGpu(w, prefer === 'auto') : initBrowserWebGpu,
    tensorflow: nodeOnly((n, w) => n.initTensorflow(w, prefer === 'auto')),
    native: nodeOnly(async (n, w) => {
      const wasm = await initWasm(w);
      return wasm && n.addNativeEngine(wasm, w, options.threads);
    }),
    webgl: node ? browserOnly : initBrowserWebgl,
    wasm: initWasm,
    cpu: initCpu,
  };
  if (prefer !== 'auto' && !(prefer in loaders)) {
    throw new Error(
      `backend must be one of auto, webgpu, tensorflow, native, webgl, wasm, cpu; got ${JSON.stringify(prefer)}`,
    );
  }
  const order: BackendName[] =
    prefer !== 'auto'
      ? [prefer]
      : node
        ? ['webgpu', 'tensorflow', 'native', 'wasm', 'cpu']
        : ['webgpu', 'webgl', 'wasm', 'cpu'];
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
    if (name === 'tensorflow' && node)
      warnings.push('tfjs-node(-gpu) not installed; using a portable backend');
  }
  throw new Error('no tfjs backend could be initialised: install @tensorflow/tfjs-backend-wasm');
}
