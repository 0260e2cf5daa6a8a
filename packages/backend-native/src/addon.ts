/**
 * Loading the compiled oneDNN addon (`build/Release/ediy_dnnl.node`), and why it could
 * not be loaded when it cannot.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * How convolutions take their activations: `nhwc`, tfjs's own layout, directly; or
 * `blocked`, oneDNN's preferred layout (nChw8c on AVX2, nChw16c on AVX-512), reordered
 * from and to NHWC around each call (faster kernels, two extra passes over the maps).
 */
export type ConvolutionLayout = 'nhwc' | 'blocked';

/** What the addon reports about itself. */
export interface AddonInfo {
  /** oneDNN's version, e.g. `2.6.3`. */
  version: string;
  /** The instruction set oneDNN dispatches to on this CPU (`avx2`, `avx512_core`, ...). */
  isa: string;
  /** OpenMP threads the calling thread's kernels use. */
  threads: number;
  /** The activation layout this thread's convolutions use ({@link ConvolutionLayout}). */
  convLayout: ConvolutionLayout;
  /**
   * Whether this thread's element-wise kernels, sums and copies share their work without
   * waiting for a sleeping thread (the default under `OMP_WAIT_POLICY=PASSIVE`, see
   * `native/addon.cc`), or split it as one OpenMP region; `EDIY_WORK_SHARING=on|off`
   * chooses.
   */
  workSharing: boolean;
  /** Primitives cached by this thread. */
  cachedPlans: number;
  /** Convolution calls that found their primitive cached. */
  planHits: number;
}

/**
 * The addon's functions. Offsets are byte offsets into `heap`, the wasm module's memory;
 * see `native/addon.cc` for the parameter lists.
 * @internal
 */
export interface Addon {
  conv(heap: ArrayBuffer, params: number[]): void;
  matmul(heap: ArrayBuffer, params: number[]): void;
  columnSums(
    heap: ArrayBuffer,
    xOffset: number,
    rows: number,
    cols: number,
    outOffset: number,
    scale: number,
  ): void;
  reduceSum(
    heap: ArrayBuffer,
    xOffset: number,
    outer: number,
    reduced: number,
    inner: number,
    outOffset: number,
    divisor: number,
  ): void;
  channelAffine(
    heap: ArrayBuffer,
    xOffset: number,
    rows: number,
    cols: number,
    scaleOffset: number,
    shiftOffset: number,
    outOffset: number,
    relu?: 0 | 1,
  ): void;
  channelMoments(
    heap: ArrayBuffer,
    xOffset: number,
    rows: number,
    cols: number,
    meanOffset: number,
    varianceOffset: number,
  ): void;
  batchNormGrad(
    heap: ArrayBuffer,
    dyOffset: number,
    xOffset: number,
    rows: number,
    cols: number,
    meanOffset: number,
    invStdOffset: number,
    gammaOffset: number,
    dxOffset: number,
    sumDyOffset: number,
    sumDyXhatOffset: number,
    reluOutputOffset?: number,
  ): void;
  batchNormForward(
    heap: ArrayBuffer,
    xOffset: number,
    rows: number,
    cols: number,
    gammaOffset: number,
    betaOffset: number,
    epsilon: number,
    yOffset: number,
    meanOffset: number,
    varianceOffset: number,
    invStdOffset: number,
    relu?: number,
  ): void;
  binary(
    heap: ArrayBuffer,
    op: number,
    aOffset: number,
    aShape: readonly number[],
    bOffset: number,
    bShape: readonly number[],
    outOffset: number,
  ): void;
  unary(heap: ArrayBuffer, op: number, xOffset: number, n: number, outOffset: number): void;
  relu(heap: ArrayBuffer, xOffset: number, n: number, outOffset: number): void;
  /** `out = max(0, a + b)` over `n` floats (NaN kept, -0 to +0): a residual sum and its ReLU. */
  addRelu(heap: ArrayBuffer, aOffset: number, bOffset: number, n: number, outOffset: number): void;
  reluGrad(
    heap: ArrayBuffer,
    dyOffset: number,
    xOffset: number,
    n: number,
    outOffset: number,
  ): void;
  slice(
    heap: ArrayBuffer,
    xOffset: number,
    shape: number[],
    begin: number[],
    size: number[],
    outOffset: number,
  ): void;
  pad(
    heap: ArrayBuffer,
    xOffset: number,
    shape: number[],
    before: number[],
    after: number[],
    value: number,
    outOffset: number,
  ): void;
  adjustHue(
    heap: ArrayBuffer,
    xOffset: number,
    images: number,
    pixels: number,
    shiftOffset: number,
    outOffset: number,
  ): void;
  larsUpdate(heap: ArrayBuffer, table: Float64Array, hyper: Float64Array): void;
  emaUpdate(heap: ArrayBuffer, table: Float64Array, keep: number, take: number): void;
  setThreads(n: number): void;
  setConvLayout(layout: ConvolutionLayout): void;
  /** Work sharing on or off for the calling thread ({@link AddonInfo}.workSharing). */
  setWorkSharing(on: boolean): void;
  info(): AddonInfo;
}

/** How to get the native engine when it is missing. */
export const NATIVE_INSTALL_HINT =
  'install oneDNN (Debian/Ubuntu: apt-get install libdnnl-dev; macOS: brew install onednn) and run `npm rebuild @ediy/backend-native`';

/**
 * The addon's path: `EDIY_NATIVE_ADDON` when set (a build of the same source elsewhere,
 * e.g. one with AddressSanitizer), else `build/Release/ediy_dnnl.node` inside this package.
 */
export const ADDON_PATH =
  process.env.EDIY_NATIVE_ADDON ??
  fileURLToPath(new URL('../build/Release/ediy_dnnl.node', import.meta.url));

let loaded: { addon?: Addon; reason?: string } | undefined;

/**
 * How OpenMP's threads wait between two parallel regions, unless the user chose: the
 * environment variables (libgomp's `OMP_WAIT_POLICY` and `GOMP_SPINCOUNT`) set before the
 * addon, and with it libgomp, loads. A step makes ~3,000 kernel calls; a thread that
 * sleeps between two of them pays a wake-up at the next, one that spins burns CPU time.
 * @internal
 */
export const OPENMP_WAIT_DEFAULTS: Readonly<Record<string, string>> = {
  OMP_WAIT_POLICY: 'PASSIVE',
};

/**
 * Sets {@link OPENMP_WAIT_DEFAULTS} in `env` when the user set none of OpenMP's wait
 * variables (`OMP_WAIT_POLICY`, `GOMP_SPINCOUNT`): a user's own value of either wins, and
 * the other is left to libgomp's own default for it.
 * @param env - the environment to complete (default `process.env`).
 * @returns the variables set.
 * @internal
 */
export function applyOpenMpWaitDefaults(
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  if (env.OMP_WAIT_POLICY !== undefined || env.GOMP_SPINCOUNT !== undefined) return {};
  Object.assign(env, OPENMP_WAIT_DEFAULTS);
  return { ...OPENMP_WAIT_DEFAULTS };
}

/**
 * Loads the addon once per thread, after {@link applyOpenMpWaitDefaults}.
 * @returns the addon, or the reason it could not be loaded.
 * @internal
 */
export function loadAddon(): { addon?: Addon; reason?: string } {
  if (loaded) return loaded;
  if (!existsSync(ADDON_PATH)) {
    loaded = {
      reason: `the oneDNN addon is not built (${ADDON_PATH} missing); ${NATIVE_INSTALL_HINT}`,
    };
    return loaded;
  }
  applyOpenMpWaitDefaults();
  try {
    const require = createRequire(import.meta.url);
    loaded = { addon: require(ADDON_PATH) as Addon };
  } catch (err) {
    loaded = {
      reason: `the oneDNN addon at ${ADDON_PATH} failed to load: ${(err as Error).message}; ${NATIVE_INSTALL_HINT}`,
    };
  }
  return loaded;
}
