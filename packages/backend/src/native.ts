/**
 * The native CPU engine in `initBackend`: tfjs-backend-wasm with its convolutions,
 * their gradients, matrix products and whole-map pooling replaced by oneDNN kernels
 * (`@ediy/backend-native`), on all cores.
 */
import type * as Native from '@ediy/backend-native';

type NativeModule = typeof Native;

let native: NativeModule | null | undefined;

/** Loads `@ediy/backend-native` once; `null` when it is not installed. */
async function nativeModule(): Promise<NativeModule | null> {
  if (native !== undefined) return native;
  try {
    native = (await import('@ediy/backend-native')) as NativeModule;
  } catch {
    native = null;
  }
  return native;
}

/** What the native engine is, for `BackendInfo`. */
export interface NativeEngineReport {
  /** `wasm + oneDNN 2.6.3 (2 threads, avx2)`. */
  summary: string;
  /** OpenMP threads inside each native kernel. */
  threads: number;
  /** The instruction set oneDNN runs on this CPU, e.g. `avx2` or `avx512_core_bf16`. */
  isa: string;
}

/**
 * Whether the native engine can run here, and if not, why (one line that says how to
 * get it).
 */
export async function nativeEngineStatus(): Promise<{ available: boolean; reason?: string }> {
  const mod = await nativeModule();
  if (mod === null) {
    return {
      available: false,
      reason:
        '@ediy/backend-native is not installed (npm i @ediy/backend-native, with oneDNN: apt-get install libdnnl-dev)',
    };
  }
  return mod.nativeEngineAvailability();
}

/**
 * Registers the native kernels over the wasm ones (the wasm backend must be set up
 * already). `undefined` when the engine is unavailable; the reason is pushed to `warnings`.
 */
export async function enableNative(
  warnings: string[],
  threads: number | undefined,
): Promise<NativeEngineReport | undefined> {
  const status = await nativeEngineStatus();
  const mod = await nativeModule();
  if (!status.available || mod === null) {
    warnings.push(`native engine unavailable: ${status.reason ?? 'unknown reason'}`);
    return undefined;
  }
  const s = mod.enableNativeEngine(threads === undefined ? {} : { threads });
  return {
    summary: `wasm + oneDNN ${s.version} (${s.threads} thread${s.threads === 1 ? '' : 's'}, ${s.isa})`,
    threads: s.threads,
    isa: s.isa,
  };
}

/** Puts the plain wasm kernels back if the native ones were registered. */
export async function disableNative(): Promise<void> {
  if (native === undefined || native === null) return;
  native.disableNativeEngine();
}
