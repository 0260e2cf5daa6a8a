/**
 * The `webgpu` backend in Node: tfjs-backend-webgpu on Dawn, the WebGPU implementation
 * Chromium uses, through the npm `webgpu` package (its native binary ships inside the
 * package). Dawn runs on Vulkan, Metal or D3D12 with whatever driver the machine has, so
 * no CUDA version is pinned. Without a GPU, SwiftShader (a CPU Vulkan driver, installed by
 * Debian's `chromium` package) gives a software adapter that runs the same code path.
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { BackendInfo } from './init.js';
import {
  describeAdapter,
  reportOf,
  setWebGpuAdapter,
  webGpuAdapter,
  WEBGPU_INSTALL_HINT,
  SWIFTSHADER_ICD,
  type AdapterLike,
  type GpuAdapterReport,
} from './gpu-adapter.js';

function resolveFrom(name: string): string | undefined {
  try {
    return createRequire(import.meta.url).resolve(name);
  } catch {
    return undefined;
  }
}

/** Whether the two npm packages the `webgpu` backend needs can be found. */
export function webGpuPackagesInstalled(): boolean {
  return (
    resolveFrom('webgpu') !== undefined &&
    resolveFrom('@tensorflow/tfjs-backend-webgpu') !== undefined
  );
}

/** What {@link probeWebGpuAdapter} found. */
export interface WebGpuProbe {
  /** The adapter Dawn offers for `powerPreference: 'high-performance'`, when there is one. */
  adapter?: GpuAdapterReport;
  /** Why there is no adapter (packages missing, no driver, Dawn failed), when there is none. */
  reason?: string;
}

// Runs in a child Node: asks Dawn for an adapter and prints its info as JSON.
const PROBE_SCRIPT = `
const { create } = await import(process.argv[1]);
const gpu = create([]);
const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
const i = a ? a.info : undefined;
const pick = (k) => (i && typeof i[k] === 'string' ? i[k] : '');
process.stdout.write(JSON.stringify(a ? { info: { vendor: pick('vendor'), architecture: pick('architecture'),
  device: pick('device'), description: pick('description'), isFallbackAdapter: i?.isFallbackAdapter === true },
  isFallbackAdapter: a.isFallbackAdapter === true } : null));
process.exit(0);
`;

/**
 * Asks Dawn, in a child process, which adapter it would give. A child keeps Dawn's driver
 * messages off this process's stderr and a crashing driver out of it, so `auto` can look
 * for a GPU cheaply (~0.3 s) before committing to one.
 * @param env the child's environment (default `process.env`; `VK_ICD_FILENAMES` picks the
 *   Vulkan driver).
 * @param timeoutMs how long the child may take before the probe counts as failed.
 */
export async function probeWebGpuAdapter(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 30_000,
): Promise<WebGpuProbe> {
  const entry = resolveFrom('webgpu');
  if (!entry) return { reason: 'the webgpu package is not installed' };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', PROBE_SCRIPT, pathToFileURL(entry).href],
      { env, timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          resolve({ reason: `Dawn failed: ${(stderr || err.message).trim().split('\n')[0]}` });
          return;
        }
        let found: AdapterLike | null;
        try {
          found = JSON.parse(stdout) as AdapterLike | null;
        } catch {
          resolve({ reason: `Dawn's probe printed no adapter report: ${stdout.slice(0, 200)}` });
          return;
        }
        resolve(
          found
            ? { adapter: reportOf(found) }
            : {
                reason:
                  `Dawn found no WebGPU adapter (no Vulkan/Metal/D3D12 driver${env.VK_ICD_FILENAMES ? `; VK_ICD_FILENAMES=${env.VK_ICD_FILENAMES}` : ''}): ${stderr.trim().split('\n')[0] ?? ''}`.trim(),
              },
        );
      },
    );
  });
}

/** Options of {@link initWebGpu}. */
export interface InitWebGpuOptions {
  /** Accept a software fallback adapter (SwiftShader). `auto` does not; `prefer: 'webgpu'` does. */
  allowFallback: boolean;
}

function info(adapter: GpuAdapterReport, warnings: string[]): BackendInfo {
  if (adapter.isFallbackAdapter) {
    warnings.push(
      `the WebGPU adapter is a software fallback (${describeAdapter(adapter)}): kernels run on the CPU, slower than wasm; it exists to test the GPU code path`,
    );
  }
  return {
    name: 'webgpu',
    tfjsBackend: 'webgpu',
    device: adapter.isFallbackAdapter ? 'cpu' : 'gpu',
    package: '@tensorflow/tfjs-backend-webgpu',
    adapter,
    warnings,
  };
}

/**
 * Sets up tfjs-backend-webgpu on Dawn in this process and makes it the tfjs backend.
 *
 * tfjs-backend-webgpu registers itself only if `navigator.gpu` exists when it is first
 * imported, so this creates Dawn's `GPU` object, installs it (and the WebGPU globals such
 * as `GPUBufferUsage`) on `globalThis`, and only then imports the backend.
 * @returns `undefined` when the packages are not installed, or when the adapter is a
 *   software fallback that `options` does not accept (a warning says so).
 * @throws when the packages are installed but Dawn offers no adapter or the backend
 *   fails to start; the message names what to install.
 */
export async function initWebGpu(
  warnings: string[],
  options: InitWebGpuOptions,
): Promise<BackendInfo | undefined> {
  if (!webGpuPackagesInstalled()) return undefined;
  const current = webGpuAdapter();
  if (current && tf.findBackend('webgpu')) {
    if (current.isFallbackAdapter && !options.allowFallback) {
      warnings.push(`skipped the software WebGPU adapter (${describeAdapter(current)})`);
      return undefined;
    }
    if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
    return info(current, warnings);
  }
  const dawn = (await import('webgpu')) as unknown as {
    create: (flags: string[]) => { requestAdapter: (o: object) => Promise<AdapterLike | null> };
    globals: Record<string, unknown>;
  };
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new Error(`Dawn found no WebGPU adapter on this machine: ${WEBGPU_INSTALL_HINT}`);
  }
  const report = reportOf(adapter);
  if (report.isFallbackAdapter && !options.allowFallback) {
    warnings.push(`skipped the software WebGPU adapter (${describeAdapter(report)})`);
    return undefined;
  }
  const g = globalThis as Record<string, unknown>;
  for (const [key, value] of Object.entries(dawn.globals)) if (!(key in g)) g[key] = value;
  if (typeof g.navigator !== 'object' || g.navigator === null) g.navigator = {};
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!tf.findBackendFactory('webgpu')) {
    throw new Error(
      '@tensorflow/tfjs-backend-webgpu was imported before navigator.gpu existed, so it did not register: call initBackend({ prefer: "webgpu" }) before importing it',
    );
  }
  // Registering it made webgpu tfjs's highest-priority backend; only setBackend decides.
  if (!(await tf.setBackend('webgpu'))) {
    throw new Error(`tfjs-backend-webgpu failed to start on ${describeAdapter(report)}`);
  }
  await tf.ready();
  explainReadSync(tf.backend());
  setWebGpuAdapter(report);
  return info(report, warnings);
}

interface WebGpuBackendLike {
  readSync(dataId: object): unknown;
  tensorMap: { get(dataId: object): { values?: unknown; dtype?: string } | undefined };
}

/**
 * tfjs-backend-webgpu reads GPU data synchronously through an `OffscreenCanvas`, which Node
 * lacks (and Dawn's Node bindings can only map buffers asynchronously), so `dataSync()`
 * of a GPU-resident tensor would fail with "OffscreenCanvas is not defined". This makes it
 * fail with an error that says what to do instead; values already on the CPU still read.
 */
function explainReadSync(backend: unknown): void {
  if (typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return;
  const b = backend as WebGpuBackendLike;
  const readSync = b.readSync.bind(b);
  b.readSync = (dataId: object) => {
    const data = b.tensorMap.get(dataId);
    if (data?.values != null || data?.dtype === 'string' || data?.dtype === 'complex64') {
      return readSync(dataId);
    }
    throw new Error(
      'dataSync()/arraySync() of a tensor on the GPU is not possible on webgpu in Node (Dawn maps buffers only asynchronously): use await tensor.data() or tensor.array()',
    );
  };
}

/** Whether `file` exists: the SwiftShader manifest check used by tests and tools. */
export function hasSwiftShader(file: string = SWIFTSHADER_ICD): boolean {
  return existsSync(file);
}

/**
 * The `webgpu` entry of `initBackend`'s loaders. Asked for explicitly it takes any
 * adapter, software or not. Under `auto` it first probes in a child process
 * ({@link probeWebGpuAdapter}) and goes on only for a real GPU, so a CPU-only machine
 * pays ~0.3 s and sees no driver messages; a software adapter is skipped with a warning
 * naming it.
 */
export async function loadWebGpu(
  warnings: string[],
  auto: boolean,
): Promise<BackendInfo | undefined> {
  if (!auto) return initWebGpu(warnings, { allowFallback: true });
  if (!webGpuPackagesInstalled()) return undefined;
  let found = webGpuAdapter();
  if (!found) {
    const probe = await probeWebGpuAdapter();
    if (!probe.adapter) {
      warnings.push(`webgpu: ${probe.reason ?? 'no adapter'}`);
      return undefined;
    }
    found = probe.adapter;
  }
  if (found.isFallbackAdapter) {
    warnings.push(`skipped the software WebGPU adapter (${describeAdapter(found)})`);
    return undefined;
  }
  return initWebGpu(warnings, { allowFallback: false });
}
