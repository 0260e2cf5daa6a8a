/**
 * The tfjs kernels the native engine registers for the `wasm` backend. Each reads its
 * inputs where tfjs-backend-wasm keeps them (the wasm heap), allocates its output with
 * the backend's `makeOutput`, and has oneDNN write into it; anything it does not cover
 * (NCHW, PReLU, unusual broadcasting, a padding oneDNN cannot express) goes to the
 * kernel it replaced, so every op still runs.
 */
import {
  backend_util,
  cast,
  engine,
  getBackend,
  getGradient,
  getKernel,
  mul,
  registerGradient,
  registerKernel,
  slice_util,
  step,
  unregisterKernel,
  util,
} from '@tensorflow/tfjs-core';
import type {
  GradConfig,
  KernelConfig,
  Tensor,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import type { Addon } from './addon.js';

/** The parts of tfjs-backend-wasm's `BackendWasm` the kernels use. */
interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  disposeData(dataId: object): void;
  incRef(dataId: object): void;
}

/** Counts of how each registered kernel ran since the last {@link resetNativeKernelStats}. */
export interface NativeKernelStats {
  /** Calls served by oneDNN (or the native loops), per kernel name. */
  native: Record<string, number>;
  /** Calls passed to the replaced wasm kernel, per kernel name and reason. */
  fallback: Record<string, number>;
}

const stats: NativeKernelStats = { native: {}, fallback: {} };

/** How the native kernels have run so far (a copy). */
export function nativeKernelStats(): NativeKernelStats {
  return { native: { ...stats.native }, fallback: { ...stats.fallback } };
}

/** Sets every count of {@link nativeKernelStats} back to zero. */
export function resetNativeKernelStats(): void {
  stats.native = {};
  stats.fallback = {};
}

const ACTIVATIONS: Record<string, number> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  leakyrelu: 3,
  elu: 4,
  sigmoid: 5,
};

/** Thrown inside a kernel to send the call to the replaced wasm kernel. */
class Unsupported extends Error {}

function offset(backend: WasmBackendLike, t: TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId);
  if (data === undefined)
    throw new Error(`tensor ${t.dataId as unknown as string} is not on the wasm backend`);
  return data.memoryOffset;
}

function requireFloat(...ts: Array<TensorInfo | undefined>): void {
  for (const t of ts) {
    if (t !== undefined && t.dtype !== 'float32') throw new Unsupported(`dtype ${t.dtype}`);
    if (t !== undefined && t.shape.some((d) => d === 0)) throw new Unsupported('empty tensor');
  }
}

/** NHWC conv geometry as the addon's parameter list wants it. */
function convParams(
  kind: 0 | 1 | 2,
  info: backend_util.Conv2DInfo,
  groups: number,
): {
  params: number[];
  set: (
    src: number,
    wei: number,
    dst: number,
    bias?: number,
    act?: number,
    alpha?: number,
  ) => number[];
} {
  if (info.dataFormat !== 'channelsLast') throw new Unsupported('NCHW');
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  // oneDNN wants the bottom/right padding that makes the output extent exact. When the
  // last rows or columns are never read (a strided 1x1 shortcut on an even map, a strided
  // 'valid' conv on an odd or explicitly padded one) that padding is negative; the addon
  // then runs the convolution on the rows and columns read (see native/addon.cc).
  const pb = (outHeight - 1) * info.strideHeight + info.effectiveFilterHeight - inHeight - pt;
  const pr = (outWidth - 1) * info.strideWidth + info.effectiveFilterWidth - inWidth - pl;
  if (pt < 0 || pl < 0) throw new Unsupported('negative padding');
  const params = [
    kind,
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    outChannels,
    info.filterHeight,
    info.filterWidth,
    groups,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    pt,
    pl,
    pb,
    pr,
  ];
  return {
    params,
    set: (src, wei, dst, bias = -1, act = 0, alpha = 0) => [
      ...params,
      src,
      wei,
      dst,
      bias,
      act,
      alpha,
    ],
  };
}

function activationCode(attrs: NamedAttrMap, inputs: NamedTensorInfoMap): [number, number] {
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  if (inputs.preluActivationWeights !== undefined || !(activation in ACTIVATIONS)) {
    throw new Unsupported(`activation ${activation}`);
  }
  return [ACTIVATIONS[activation] as number, (attrs.leakyreluAlpha as number | undefined) ?? 0.2];
}

type NativeKernel = (
  addon: Addon,
  backend: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap,
) => TensorInfo | TensorInfo[];

/** Allocates `shape`, runs `fill` with its offset, and frees it again if `fill` throws. */
function withOutput(
  backend: WasmBackendLike,
  shape: number[],
  fill: (out: number) => void,
): TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  try {
    fill(offset(backend, out));
  } catch (err) {
    backend.disposeData(out.dataId);
    throw err;
  }
  return out;
}

const heap = (backend: WasmBackendLike): ArrayBuffer => backend.wasm.HEAPU8.buffer as ArrayBuffer;

function forwardConv(depthwise: boolean, fused: boolean): NativeKernel {
  return (addon, backend, inputs, attrs) => {
    const { x, filter, bias } = inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo };
    requireFloat(x, filter, bias);
    const [act, alpha] = fused ? activationCode(attrs, inputs) : [0, 0];
    const dataFormat = backend_util.convertConv2DDataFormat(attrs.dataFormat as 'NHWC' | 'NCHW');
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      attrs.strides as [number, number] | number,
      attrs.dilations as [number, number] | number,
      attrs.pad as 'valid' | 'same',
      attrs.dimRoundingMode as 'floor' | undefined,
      depthwise,
      dataFormat,
    );
    if (bias !== undefined && util.sizeFromShape(bias.shape) !== info.outChannels) {
      throw new Unsupported(`bias of shape [${bias.shape.join(',')}]`);
    }
    const groups = depthwise ? info.inChannels : 1;
    const { set } = convParams(0, info, groups);
    return withOutput(backend, info.outShape, (out) => {
      addon.conv(
        heap(backend),
        set(
          offset(backend, x),
          offset(backend, filter),
          out,
          bias ? offset(backend, bias) : -1,
          act,
          alpha,
        ),
      );
    });
  };
}

/**
 * Per-channel affine of a 1x1, multiplier-1 depthwise conv, and its ReLU with the `relu`
 * activation (an inference-mode BatchNorm and the ReLU after it): one pass, all cores.
 */
const channelAffineConv: NativeKernel = (addon, backend, inputs, attrs) => {
  const { x, filter, bias } = inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo };
  requireFloat(x, filter, bias);
  const [, , c, m] = filter.shape as [number, number, number, number];
  const [act] = activationCode(attrs, inputs);
  const strides = attrs.strides;
  const dilations = attrs.dilations;
  const one = (v: unknown) => v === 1 || (Array.isArray(v) && v.every((e) => e === 1));
  if (
    filter.shape[0] !== 1 ||
    filter.shape[1] !== 1 ||
    m !== 1 ||
    (act !== 0 && act !== ACTIVATIONS.relu) ||
    !one(strides) ||
    !(dilations === undefined || one(dilations)) ||
    (attrs.dataFormat ?? 'NHWC') !== 'NHWC' ||
    (bias !== undefined && util.sizeFromShape(bias.shape) !== c)
  ) {
    return forwardConv(true, true)(addon, backend, inputs, attrs);
  }
  const rows = util.sizeFromShape(x.shape) / c;
  return withOutput(backend, [...x.shape], (out) => {
    addon.channelAffine(
      heap(backend),
      offset(backend, x),
      rows,
      c,
      offset(backend, filter),
      bias ? offset(backend, bias) : -1,
      out,
      act === ACTIVATIONS.relu ? 1 : 0,
    );
  });
};

/**
 * The geometry of a convolution gradient from the forward pass's input and filter
 * shapes, checking that `dy` has the forward output's shape.
 */
function gradientInfo(
  kernel: string,
  depthwise: boolean,
  attrs: NamedAttrMap,
  inShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  dy: TensorInfo,
): backend_util.Conv2DInfo {
  const dataFormat = backend_util.convertConv2DDataFormat(
    ((attrs.dataFormat as string | undefined) ?? 'NHWC') as 'NHWC' | 'NCHW',
  );
  const info = backend_util.computeConv2DInfo(
    inShape,
    filterShape,
    attrs.strides as [number, number] | number,
    depthwise ? (attrs.dilations as [number, number] | number) : 1,
    attrs.pad as 'valid' | 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
    depthwise,
    dataFormat,
  );
  if (!util.arraysEqual(dy.shape, info.outShape)) {
    throw new Error(
      `${kernel}: dy has shape [${dy.shape.join(',')}], expected [${info.outShape.join(',')}]`,
    );
  }
  return info;
}

function backpropInput(depthwise: boolean): NativeKernel {
  const name = depthwise ? 'DepthwiseConv2dNativeBackpropInput' : 'Conv2DBackpropInput';
  return (addon, backend, inputs, attrs) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    requireFloat(dy, filter);
    const inputShape = attrs.inputShape as [number, number, number, number];
    const info = gradientInfo(
      name,
      depthwise,
      attrs,
      inputShape,
      filter.shape as [number, number, number, number],
      dy,
    );
    const { set } = convParams(1, info, depthwise ? info.inChannels : 1);
    return withOutput(backend, [...inputShape], (out) => {
      addon.conv(heap(backend), set(out, offset(backend, filter), offset(backend, dy)));
    });
  };
}

function backpropFilter(depthwise: boolean): NativeKernel {
  const name = depthwise ? 'DepthwiseConv2dNativeBackpropFilter' : 'Conv2DBackpropFilter';
  return (addon, backend, inputs, attrs) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    requireFloat(x, dy);
    const filterShape = attrs.filterShape as [number, number, number, number];
    const info = gradientInfo(
      name,
      depthwise,
      attrs,
      x.shape as [number, number, number, number],
      filterShape,
      dy,
    );
    const { set } = convParams(2, info, depthwise ? info.inChannels : 1);
    return withOutput(backend, [...filterShape], (out) => {
      addon.conv(heap(backend), set(offset(backend, x), out, offset(backend, dy)));
    });
  };
}

function matMul(fused: boolean): NativeKernel {
  return (addon, backend, inputs, attrs) => {
    const { a, b, bias } = inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo };
    requireFloat(a, b, bias);
    const [act, alpha] = fused ? activationCode(attrs, inputs) : [0, 0];
    const ta = attrs.transposeA === true;
    const tb = attrs.transposeB === true;
    const ra = a.shape.length;
    const rb = b.shape.length;
    if (ra < 2 || rb < 2) throw new Unsupported('rank < 2');
    const m = a.shape[ta ? ra - 1 : ra - 2] as number;
    const k = a.shape[ta ? ra - 2 : ra - 1] as number;
    const kb = b.shape[tb ? rb - 1 : rb - 2] as number;
    const n = b.shape[tb ? rb - 2 : rb - 1] as number;
    if (k !== kb) {
      throw new Error(
        `BatchMatMul: inner dimensions of [${a.shape.join(',')}] and [${b.shape.join(',')}] (transposeA=${ta}, transposeB=${tb}) must agree, got ${k} and ${kb}`,
      );
    }
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    const sa = util.sizeFromShape(batchA);
    const sb = util.sizeFromShape(batchB);
    let outBatch: number[];
    if (sa === sb && util.arraysEqual(batchA, batchB)) outBatch = batchA;
    else if (sa === 1) outBatch = batchB.length >= batchA.length ? batchB : batchA.map(() => 1);
    else if (sb === 1) outBatch = batchA.length >= batchB.length ? batchA : batchB.map(() => 1);
    else throw new Unsupported('batch broadcast');
    const batch = Math.max(sa, sb);
    let biasLen = 0;
    if (bias !== undefined) {
      biasLen = util.sizeFromShape(bias.shape);
      const lastIsN = bias.shape[bias.shape.length - 1] === n && biasLen === n;
      if (!(lastIsN || biasLen === 1))
        throw new Unsupported(`bias of shape [${bias.shape.join(',')}]`);
    }
    return withOutput(backend, [...outBatch, m, n], (out) => {
      addon.matmul(heap(backend), [
        batch,
        m,
        k,
        n,
        sa,
        sb,
        ta ? 1 : 0,
        tb ? 1 : 0,
        offset(backend, a),
        offset(backend, b),
        out,
        bias ? offset(backend, bias) : -1,
        biasLen,
        act,
        alpha,
      ]);
    });
  };
}

/** Average pooling over each image's whole map (what channel means are), else the wasm kernel. */
const globalAvgPool: NativeKernel = (addon, backend, inputs, attrs) => {
  const { x } = inputs as { x: TensorInfo };
  requireFloat(x);
  if (x.shape.length !== 4) throw new Unsupported('rank');
  const [batch, h, w, c] = x.shape as [number, number, number, number];
  const info = backend_util.computePool2DInfo(
    [batch, h, w, c],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'valid' | 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
  );
  const p = info.padInfo;
  if (
    info.filterHeight !== h ||
    info.filterWidth !== w ||
    info.outHeight !== 1 ||
    info.outWidth !== 1 ||
    p.top !== 0 ||
    p.bottom !== 0 ||
    p.left !== 0 ||
    p.right !== 0
  ) {
    throw new Unsupported('not a whole-map pooling');
  }
  const rows = h * w;
  return withOutput(backend, [batch, 1, 1, c], (out) => {
    const xo = offset(backend, x);
    for (let i = 0; i < batch; i++) {
      addon.columnSums(heap(backend), xo + i * rows * c * 4, rows, c, out + i * c * 4, 1 / rows);
    }
  });
};

/**
 * The kernel names of BatchNorm's training statistics and gradient, which only the native
 * engine registers (for the `wasm` backend); callers check `getKernel(name, backend)` and
 * compute the same with tfjs ops where it is missing.
 */
export const BATCH_NORM_KERNELS = {
  /** `{x}` (channels last, rank >= 2) -> `[mean, variance]`, both `[C]`, the variance biased. */
  moments: 'EdiyChannelMoments',
  /**
   * `{dy, x, mean, invStd, gamma}` -> `[dx, sumDy, sumDyXhat]`: with
   * `xhat = (x - mean) * invStd` over the N rows of each channel, `sumDy = sum(dy)`,
   * `sumDyXhat = sum(dy * xhat)` (BatchNorm's dbeta and dgamma) and
   * `dx = gamma * invStd * (dy - sumDy / N - xhat * sumDyXhat / N)`.
   */
  gradient: 'EdiyBatchNormGrad',
  /**
   * `{x, gamma, beta}` with attribute `epsilon` -> `[y, mean, variance, invStd]`: the
   * per-channel batch mean and biased variance, `invStd = 1 / sqrt(variance + epsilon)`
   * and `y = (x - mean) * invStd * gamma + beta`, in one call. Given the moving statistics
   * too, `{x, gamma, beta, movingMean, movingVariance}` with attributes `epsilon` and
   * `momentum`, it also returns their update, `[..., newMovingMean, newMovingVariance]`
   * with `new = moving - (moving - batch) * (1 - momentum)` (tfjs-layers' update, in
   * float32 as its three ops round it, `1 - momentum` rounded to float32 as a scalar).
   */
  forward: 'EdiyBatchNormForward',
} as const;

function channelsOf(x: TensorInfo, what: string): [rows: number, cols: number] {
  if (x.shape.length < 2) {
    throw new Error(
      `${what}: x must have rank >= 2 (channels last), got shape [${x.shape.join(',')}]`,
    );
  }
  const cols = x.shape[x.shape.length - 1] as number;
  return [util.sizeFromShape(x.shape) / cols, cols];
}

function requireChannels(c: number, what: string, ...ts: Array<[string, TensorInfo]>): void {
  for (const [name, t] of ts) {
    if (util.sizeFromShape(t.shape) !== c) {
      throw new Error(
        `${what}: ${name} must have ${c} values (x's channels), got shape [${t.shape.join(',')}]`,
      );
    }
  }
}

/** {@link BATCH_NORM_KERNELS}.moments: one call, two passes in double. */
const channelMoments: NativeKernel = (addon, backend, inputs) => {
  const { x } = inputs as { x: TensorInfo };
  requireFloat(x);
  const [rows, c] = channelsOf(x, BATCH_NORM_KERNELS.moments);
  if (rows < 1) throw new Unsupported('empty');
  const mean = backend.makeOutput([c], 'float32');
  const variance = backend.makeOutput([c], 'float32');
  try {
    addon.channelMoments(
      heap(backend),
      offset(backend, x),
      rows,
      c,
      offset(backend, mean),
      offset(backend, variance),
    );
  } catch (err) {
    backend.disposeData(mean.dataId);
    backend.disposeData(variance.dataId);
    throw err;
  }
  return [mean, variance];
};

/**
 * {@link BATCH_NORM_KERNELS}.gradient: both sums and dx in one call. With the input `y`,
 * the output of a ReLU after the BatchNorm (its forward pass with `relu`), `dy` is the
 * ReLU's output gradient and is masked by `step(y)` first: both layers' gradient in one call.
 */
const batchNormGrad: NativeKernel = (addon, backend, inputs) => {
  const { dy, x, mean, invStd, gamma, y } = inputs as Record<
    'dy' | 'x' | 'mean' | 'invStd' | 'gamma',
    TensorInfo
  > &
    Partial<Record<'y', TensorInfo>>;
  requireFloat(dy, x, mean, invStd, gamma, y);
  const what = BATCH_NORM_KERNELS.gradient;
  if (!util.arraysEqual(dy.shape, x.shape)) {
    throw new Error(
      `${what}: dy must have x's shape [${x.shape.join(',')}], got [${dy.shape.join(',')}]`,
    );
  }
  if (y !== undefined && !util.arraysEqual(y.shape, x.shape)) {
    throw new Error(
      `${what}: y (the ReLU's output) must have x's shape [${x.shape.join(',')}], got [${y.shape.join(',')}]`,
    );
  }
  const [rows, c] = channelsOf(x, what);
  if (rows < 1) throw new Unsupported('empty');
  requireChannels(c, what, ['mean', mean], ['invStd', invStd], ['gamma', gamma]);
  const outs = [
    backend.makeOutput([...x.shape], 'float32'),
    backend.makeOutput([c], 'float32'),
    backend.makeOutput([c], 'float32'),
  ] as const;
  try {
    addon.batchNormGrad(
      heap(backend),
      offset(backend, dy),
      offset(backend, x),
      rows,
      c,
      offset(backend, mean),
      offset(backend, invStd),
      offset(backend, gamma),
      offset(backend, outs[0]),
      offset(backend, outs[1]),
      offset(backend, outs[2]),
      y === undefined ? -1 : offset(backend, y),
    );
  } catch (err) {
    for (const o of outs) backend.disposeData(o.dataId);
    throw err;
  }
  return [...outs];
};

/**
 * `moving - (moving - batch) * k` over `c` float32 values of the wasm heap, each operation
 * rounded to float32 as tfjs's `Sub`, `Multiply`, `Sub` round theirs (one IEEE operation
 * on two float32 values, exact in double and then rounded, is the float32 operation).
 */
function movingUpdate(
  backend: WasmBackendLike,
  c: number,
  k: number,
  moving: TensorInfo,
  batch: TensorInfo,
  out: TensorInfo,
): void {
  const f32 = new Float32Array(heap(backend));
  const m0 = offset(backend, moving) / 4;
  const b0 = offset(backend, batch) / 4;
  const o0 = offset(backend, out) / 4;
  for (let i = 0; i < c; i++) {
    const old = f32[m0 + i] as number;
    const d = Math.fround(old - (f32[b0 + i] as number));
    f32[o0 + i] = old - Math.fround(d * k);
  }
}

/**
 * {@link BATCH_NORM_KERNELS}.forward: statistics and normalisation in one call, and the
 * moving statistics' update where they are given; with the attribute `relu: true`, the
 * ReLU after the BatchNorm in the same pass (`y = max(0, xhat * gamma + beta)`).
 */
const batchNormForward: NativeKernel = (addon, backend, inputs, attrs) => {
  const { x, gamma, beta, movingMean, movingVariance } = inputs as Record<
    'x' | 'gamma' | 'beta',
    TensorInfo
  > &
    Partial<Record<'movingMean' | 'movingVariance', TensorInfo>>;
  requireFloat(x, gamma, beta, movingMean, movingVariance);
  const what = BATCH_NORM_KERNELS.forward;
  const [rows, c] = channelsOf(x, what);
  if (rows < 1) throw new Unsupported('empty');
  requireChannels(c, what, ['gamma', gamma], ['beta', beta]);
  const epsilon = attrs.epsilon;
  if (typeof epsilon !== 'number' || !(epsilon >= 0)) {
    throw new Error(`${what}: epsilon must be a number >= 0, got ${String(epsilon)}`);
  }
  if ((movingMean === undefined) !== (movingVariance === undefined)) {
    throw new Error(`${what}: give both movingMean and movingVariance, or neither`);
  }
  const moving = movingMean !== undefined && movingVariance !== undefined;
  let keep = 0;
  if (moving) {
    requireChannels(c, what, ['movingMean', movingMean], ['movingVariance', movingVariance]);
    const momentum = attrs.momentum;
    if (typeof momentum !== 'number' || !Number.isFinite(momentum)) {
      throw new Error(`${what}: momentum must be a finite number, got ${String(momentum)}`);
    }
    keep = Math.fround(1 - momentum);
  }
  const withRelu = attrs.relu ?? false;
  if (typeof withRelu !== 'boolean') {
    throw new Error(`${what}: relu must be a boolean, got ${String(withRelu)}`);
  }
  const outs = [
    backend.makeOutput([...x.shape], 'float32'),
    backend.makeOutput([c], 'float32'),
    backend.makeOutput([c], 'float32'),
    backend.makeOutput([c], 'float32'),
    ...(moving ? [backend.makeOutput([c], 'float32'), backend.makeOutput([c], 'float32')] : []),
  ];
  try {
    addon.batchNormForward(
      heap(backend),
      offset(backend, x),
      rows,
      c,
      offset(backend, gamma),
      offset(backend, beta),
      epsilon,
      offset(backend, outs[0] as TensorInfo),
      offset(backend, outs[1] as TensorInfo),
      offset(backend, outs[2] as TensorInfo),
      offset(backend, outs[3] as TensorInfo),
      withRelu ? 1 : 0,
    );
    if (movingMean !== undefined && movingVariance !== undefined) {
      movingUpdate(backend, c, keep, movingMean, outs[1] as TensorInfo, outs[4] as TensorInfo);
      movingUpdate(backend, c, keep, movingVariance, outs[2] as TensorInfo, outs[5] as TensorInfo);
    }
  } catch (err) {
    for (const o of outs) backend.disposeData(o.dataId);
    throw err;
  }
  return outs;
};

/**
 * The kernel of ReLU's gradient, `{dy, x}` -> `dy * step(x)`, which only the native engine
 * registers; the `Relu` gradient calls it where it is registered (see
 * {@link registerKernels}).
 */
export const RELU_GRAD_KERNEL = 'EdiyReluGrad';

/** Throws, naming `kernel` and both inputs, unless they are float32 tensors of one shape. */
function requireFloatPair(
  kernel: string,
  [aName, a]: [string, TensorInfo],
  [bName, b]: [string, TensorInfo],
): void {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || !util.arraysEqual(a.shape, b.shape)) {
    throw new Error(
      `${kernel}: ${aName} and ${bName} must be float32 of one shape, got ${a.dtype} [${a.shape.join(',')}] and ${b.dtype} [${b.shape.join(',')}]`,
    );
  }
}

/** `Relu` of a float32 tensor, one pass on all cores. */
const relu: NativeKernel = (addon, backend, inputs) => {
  const { x } = inputs as { x: TensorInfo };
  requireFloat(x);
  return withOutput(backend, [...x.shape], (out) => {
    addon.relu(heap(backend), offset(backend, x), util.sizeFromShape(x.shape), out);
  });
};

/** {@link RELU_GRAD_KERNEL}: one pass instead of `Step`, `Cast` and `Multiply`. */
const reluGrad: NativeKernel = (addon, backend, inputs) => {
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  requireFloatPair(RELU_GRAD_KERNEL, ['dy', dy], ['x', x]);
  return withOutput(backend, [...x.shape], (out) => {
    const n = util.sizeFromShape(x.shape);
    if (n > 0) addon.reluGrad(heap(backend), offset(backend, dy), offset(backend, x), n, out);
  });
};

/**
 * The kernel of a residual sum and the ReLU after it, `{a, b}` (float32, one shape) ->
 * `max(0, a + b)`, which only the native engine registers: the bits of `Add` then `Relu`
 * in one pass over the map. `@ediy/backbones`' `addRelu` calls it where it is registered
 * and gives it its gradient.
 */
export const ADD_RELU_KERNEL = 'EdiyAddRelu';

/** {@link ADD_RELU_KERNEL}: the sum and its ReLU in one pass, on all cores. */
const addRelu: NativeKernel = (addon, backend, inputs) => {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  requireFloatPair(ADD_RELU_KERNEL, ['a', a], ['b', b]);
  return withOutput(backend, [...a.shape], (out) => {
    const n = util.sizeFromShape(a.shape);
    if (n > 0) addon.addRelu(heap(backend), offset(backend, a), offset(backend, b), n, out);
  });
};

/** The op codes of the addon's `binary` (see `native/addon.cc`). */
const BINARY_OPS = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
  RealDiv: 3,
  Maximum: 4,
  Minimum: 5,
} as const;

/**
 * A float32 element-wise binary op with NumPy broadcasting (same shapes, a scalar, a
 * per-channel vector, any size-1 axes), on all cores: one IEEE operation per element,
 * so the cpu backend's values bit for bit. Other dtypes go to wasm.
 */
function binaryKernel(op: number): NativeKernel {
  return (addon, backend, inputs) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') {
      throw new Unsupported(`dtype ${a.dtype} ${b.dtype}`);
    }
    const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (util.sizeFromShape(outShape) === 0) throw new Unsupported('empty tensor');
    return withOutput(backend, outShape, (out) => {
      addon.binary(
        heap(backend),
        op,
        offset(backend, a),
        a.shape,
        offset(backend, b),
        b.shape,
        out,
      );
    });
  };
}

/** A float32 element-wise unary op of the addon's `unary` (0 `Square`, 1 `Sqrt`). */
function unaryKernel(op: number): NativeKernel {
  return (addon, backend, inputs) => {
    const { x } = inputs as { x: TensorInfo };
    requireFloat(x);
    return withOutput(backend, [...x.shape], (out) => {
      addon.unary(heap(backend), op, offset(backend, x), util.sizeFromShape(x.shape), out);
    });
  };
}

/**
 * Drops trailing dimensions a window covers whole (begin 0, full extent) into the one
 * before, so the copy runs in longer rows.
 */
function mergeTrailing(
  shape: number[],
  a: number[],
  b: number[],
  whole: (d: number) => boolean,
): void {
  while (shape.length > 1 && whole(shape.length - 1)) {
    const last = shape.length - 1;
    const n = shape[last] as number;
    shape[last - 1] = (shape[last - 1] as number) * n;
    a[last - 1] = (a[last - 1] as number) * n;
    b[last - 1] = (b[last - 1] as number) * n;
    shape.pop();
    a.pop();
    b.pop();
  }
}

/** `Slice` of a float32 tensor: rows copied on all cores. */
const sliceKernel: NativeKernel = (addon, backend, inputs, attrs) => {
  const { x } = inputs as { x: TensorInfo };
  requireFloat(x);
  if (x.shape.length < 1) throw new Unsupported('scalar');
  const [begin, size] = slice_util.parseSliceParams(
    x,
    attrs.begin as number | number[],
    attrs.size as number | number[] | undefined,
  ) as [number[], number[]];
  slice_util.assertParamsValid(x, begin, size);
  if (size.some((d) => d === 0)) throw new Unsupported('empty output');
  const shape = [...x.shape];
  const b = [...begin];
  const sz = [...size];
  mergeTrailing(shape, b, sz, (d) => b[d] === 0 && sz[d] === shape[d]);
  return withOutput(backend, [...size], (out) => {
    addon.slice(heap(backend), offset(backend, x), shape, b, sz, out);
  });
};

/** `PadV2` (constant padding) of a float32 tensor: rows written on all cores. */
const padKernel: NativeKernel = (addon, backend, inputs, attrs) => {
  const { x } = inputs as { x: TensorInfo };
  requireFloat(x);
  const paddings = attrs.paddings as Array<[number, number]>;
  if (x.shape.length < 1 || paddings.length !== x.shape.length) throw new Unsupported('rank');
  const before = paddings.map((p) => p[0]);
  const after = paddings.map((p) => p[1]);
  if ([...before, ...after].some((p) => !Number.isInteger(p) || p < 0)) {
    throw new Unsupported('negative padding');
  }
  const outShape = x.shape.map((d, i) => d + (before[i] as number) + (after[i] as number));
  const shape = [...x.shape];
  mergeTrailing(shape, before, after, (d) => before[d] === 0 && after[d] === 0);
  return withOutput(backend, outShape, (out) => {
    addon.pad(
      heap(backend),
      offset(backend, x),
      shape,
      before,
      after,
      Number(attrs.constantValue ?? 0),
      out,
    );
  });
};

/**
 * `Sum` (or `Mean`, `mean` true) of a float32 tensor over contiguous axes, x viewed as
 * [outer, reduced, inner]. Over leading axes (a bias's gradient, channel sums): column
 * sums over fixed row blocks. Otherwise (trailing axes, middle axes, everything): sums in
 * double in the cpu backend's order, tiles spread over the threads. Either way the same
 * bits for any thread count. Axes that are not contiguous go to the wasm kernel (which
 * transposes first).
 */
function reduceKernel(mean: boolean): NativeKernel {
  return (addon, backend, inputs, attrs) => {
    const { x } = inputs as { x: TensorInfo };
    requireFloat(x);
    const shape = x.shape;
    const axes = util.parseAxisParam(attrs.axis as number | number[], shape).sort((p, q) => p - q);
    const k = axes.length;
    const a0 = axes[0] ?? 0;
    if (k === 0 || axes.some((a, i) => a !== a0 + i)) throw new Unsupported('axes');
    const a1 = a0 + k;
    const outer = util.sizeFromShape(shape.slice(0, a0));
    const reduced = util.sizeFromShape(shape.slice(a0, a1));
    const inner = util.sizeFromShape(shape.slice(a1));
    const outShape =
      attrs.keepDims === true
        ? shape.map((d, i) => (i >= a0 && i < a1 ? 1 : d))
        : [...shape.slice(0, a0), ...shape.slice(a1)];
    return withOutput(backend, outShape, (out) => {
      if (!mean && outer === 1 && inner > 1) {
        addon.columnSums(heap(backend), offset(backend, x), reduced, inner, out, 1);
      } else {
        addon.reduceSum(
          heap(backend),
          offset(backend, x),
          outer,
          reduced,
          inner,
          out,
          mean ? reduced : 1,
        );
      }
    });
  };
}

/**
 * The kernels of the optimiser's and the EMA's updates, many variables per call, which
 * only the native engine registers (for the `wasm` backend); `@ediy/optim` checks
 * `getKernel(name, backend)` and composes the same update from tfjs ops where they are
 * missing. Both give that composition's bits on this engine (the same float32 operations
 * in the same order, the norms' sums as the native `Sum` sums a whole tensor), for any
 * thread count.
 */
export const UPDATE_KERNELS = {
  /**
   * One LARS step (`larsStep` of `@ediy/optim`) of `excluded.length` variables: inputs
   * `w0, g0, v0, w1, g1, v1, ...` (weight, gradient, momentum; float32, each triple of
   * one shape), attributes `learningRate`, `momentum`, `weightDecay`, `eta`, `clip`
   * (boolean) and `excluded` (one boolean per variable) -> `[w0', v0', w1', v1', ...]`.
   */
  lars: 'EdiyLarsUpdate',
  /**
   * The EMA update (`emaUpdate` of `@ediy/optim`) of `count` pairs: inputs
   * `t0, o0, t1, o1, ...` (target, online; float32, each pair of one shape), attributes
   * `tau` and `count` -> `[t0', t1', ...]` with `t' = tau * t + (1 - tau) * o`.
   */
  ema: 'EdiyEmaUpdate',
} as const;

/** The input `name` of a kernel, checked float32 of `shape` (when given). */
function updateInput(
  inputs: NamedTensorInfoMap,
  what: string,
  name: string,
  shape?: readonly number[],
): TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`${what}: input '${name}' is missing`);
  if (t.dtype !== 'float32') {
    throw new Error(`${what}: input '${name}' must be float32, got ${t.dtype}`);
  }
  if (shape !== undefined && !util.arraysEqual(t.shape, [...shape])) {
    throw new Error(
      `${what}: input '${name}' has shape [${t.shape.join(',')}], expected [${shape.join(',')}]`,
    );
  }
  if (util.sizeFromShape(t.shape) === 0) throw new Error(`${what}: input '${name}' is empty`);
  return t;
}

/** Allocates `shapes`, runs `fill` with their offsets, frees them again if `fill` throws. */
function withOutputs(
  backend: WasmBackendLike,
  shapes: number[][],
  fill: (outs: number[]) => void,
): TensorInfo[] {
  const outs: TensorInfo[] = [];
  try {
    for (const s of shapes) outs.push(backend.makeOutput(s, 'float32'));
    fill(outs.map((o) => offset(backend, o)));
  } catch (err) {
    for (const o of outs) backend.disposeData(o.dataId);
    throw err;
  }
  return outs;
}

function finiteAttr(attrs: NamedAttrMap, what: string, name: string): number {
  const v = attrs[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new Error(`${what}: attribute ${name} must be a finite number, got ${String(v)}`);
  }
  return v;
}

/** {@link UPDATE_KERNELS}.lars: every variable's LARS step in one call. */
const larsUpdate: NativeKernel = (addon, backend, inputs, attrs) => {
  const what = UPDATE_KERNELS.lars;
  const excluded = attrs.excluded;
  if (!Array.isArray(excluded) || excluded.some((e) => typeof e !== 'boolean')) {
    throw new Error(`${what}: attribute excluded must be an array of booleans`);
  }
  const hyper = new Float64Array([
    finiteAttr(attrs, what, 'learningRate'),
    finiteAttr(attrs, what, 'momentum'),
    finiteAttr(attrs, what, 'weightDecay'),
    finiteAttr(attrs, what, 'eta'),
    attrs.clip === true ? 1 : 0,
  ]);
  const count = excluded.length;
  const vars = Array.from({ length: count }, (_, i) => {
    const w = updateInput(inputs, what, `w${i}`);
    return [
      w,
      updateInput(inputs, what, `g${i}`, w.shape),
      updateInput(inputs, what, `v${i}`, w.shape),
    ] as const;
  });
  if (Object.keys(inputs).length !== 3 * count) {
    throw new Error(
      `${what}: ${Object.keys(inputs).length} inputs for ${count} variables (w, g, v each)`,
    );
  }
  return withOutputs(
    backend,
    vars.flatMap(([w]) => [[...w.shape], [...w.shape]]),
    (outs) => {
      const table = new Float64Array(7 * count);
      vars.forEach(([w, g, v], i) => {
        table.set(
          [
            util.sizeFromShape(w.shape),
            excluded[i] === true ? 1 : 0,
            offset(backend, w),
            offset(backend, g),
            offset(backend, v),
            outs[2 * i] as number,
            outs[2 * i + 1] as number,
          ],
          7 * i,
        );
      });
      addon.larsUpdate(heap(backend), table, hyper);
    },
  );
};

/** {@link UPDATE_KERNELS}.ema: every pair's EMA update in one call. */
const emaUpdate: NativeKernel = (addon, backend, inputs, attrs) => {
  const what = UPDATE_KERNELS.ema;
  const tau = finiteAttr(attrs, what, 'tau');
  const count = attrs.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
    throw new Error(`${what}: attribute count must be a whole number >= 0, got ${String(count)}`);
  }
  if (Object.keys(inputs).length !== 2 * count) {
    throw new Error(`${what}: ${Object.keys(inputs).length} inputs for ${count} pairs (t, o each)`);
  }
  const pairs = Array.from({ length: count }, (_, i) => {
    const t = updateInput(inputs, what, `t${i}`);
    return [t, updateInput(inputs, what, `o${i}`, t.shape)] as const;
  });
  return withOutputs(
    backend,
    pairs.map(([t]) => [...t.shape]),
    (outs) => {
      const table = new Float64Array(4 * count);
      pairs.forEach(([t, o], i) => {
        table.set(
          [util.sizeFromShape(t.shape), offset(backend, t), offset(backend, o), outs[i] as number],
          4 * i,
        );
      });
      addon.emaUpdate(heap(backend), table, tau, 1 - tau);
    },
  );
};

/**
 * `Identity` as a view of its input (the data shared, its reference count raised, as
 * tfjs-backend-wasm's own `Reshape` does): the wasm kernel copies the whole tensor, and
 * every gradient and `tf.keep` path calls it (1,441 calls, ~3% of an E-DIY step).
 */
const identityView: NativeKernel = (_addon, backend, inputs) => {
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === 'string') throw new Unsupported('dtype string');
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
};

/**
 * `Cast` to the tensor's own dtype as a view, as `Identity`: tfjs's gradient of `clone`
 * casts dy to float32, and the wasm kernel copies the whole tensor for it (77 copies of
 * gradient-sized tensors in an E-DIY step). Casts to another dtype go to wasm.
 */
const castView: NativeKernel = (_addon, backend, inputs, attrs) => {
  const { x } = inputs as { x: TensorInfo };
  if (attrs.dtype !== x.dtype || x.dtype === 'string' || x.dtype === 'complex64') {
    throw new Unsupported(`${x.dtype} to ${String(attrs.dtype)}`);
  }
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
};

/**
 * The hue rotation of `@ediy/augment`'s `adjustHue` in one kernel call (the composition of
 * tfjs ops it replaces makes ~60): inputs `images` ([B,H,W,3] float32 RGB in [0, 1]) and
 * `shifts` ([B] float32, in turns), output [B,H,W,3]. `@ediy/augment` checks
 * `getKernel(HUE_KERNEL, backend)` (its own constant, spelt alike) and composes the same
 * function from tfjs ops where it is missing; on this engine the kernel gives that
 * composition's bits, for any thread count. It has no gradient (augmentation is not
 * differentiated).
 */
export const HUE_KERNEL = 'EdiyAdjustHue';

/** {@link HUE_KERNEL}: every pixel's hue rotation in one pass. */
const adjustHueKernel: NativeKernel = (addon, backend, inputs) => {
  const images = updateInput(inputs, HUE_KERNEL, 'images');
  const [B, H, W, C] = images.shape;
  if (images.shape.length !== 4 || C !== 3) {
    throw new Error(`${HUE_KERNEL}: images must be [B,H,W,3], got [${images.shape.join(',')}]`);
  }
  const shifts = updateInput(inputs, HUE_KERNEL, 'shifts', [B as number]);
  return withOutput(backend, [...images.shape], (out) => {
    addon.adjustHue(
      heap(backend),
      offset(backend, images),
      B as number,
      (H as number) * (W as number),
      offset(backend, shifts),
      out,
    );
  });
};

const NATIVE: Record<string, NativeKernel> = {
  Identity: identityView,
  Cast: castView,
  Conv2D: forwardConv(false, false),
  FusedConv2D: forwardConv(false, true),
  Conv2DBackpropInput: backpropInput(false),
  Conv2DBackpropFilter: backpropFilter(false),
  DepthwiseConv2dNative: forwardConv(true, false),
  FusedDepthwiseConv2D: channelAffineConv,
  DepthwiseConv2dNativeBackpropInput: backpropInput(true),
  DepthwiseConv2dNativeBackpropFilter: backpropFilter(true),
  BatchMatMul: matMul(false),
  _FusedMatMul: matMul(true),
  AvgPool: globalAvgPool,
  [BATCH_NORM_KERNELS.moments]: channelMoments,
  [BATCH_NORM_KERNELS.gradient]: batchNormGrad,
  [BATCH_NORM_KERNELS.forward]: batchNormForward,
  Relu: relu,
  [RELU_GRAD_KERNEL]: reluGrad,
  [ADD_RELU_KERNEL]: addRelu,
  Slice: sliceKernel,
  PadV2: padKernel,
  Sum: reduceKernel(false),
  Mean: reduceKernel(true),
  Add: binaryKernel(BINARY_OPS.Add),
  Sub: binaryKernel(BINARY_OPS.Sub),
  Multiply: binaryKernel(BINARY_OPS.Multiply),
  RealDiv: binaryKernel(BINARY_OPS.RealDiv),
  Maximum: binaryKernel(BINARY_OPS.Maximum),
  Minimum: binaryKernel(BINARY_OPS.Minimum),
  Square: unaryKernel(0),
  Sqrt: unaryKernel(1),
  [UPDATE_KERNELS.lars]: larsUpdate,
  [UPDATE_KERNELS.ema]: emaUpdate,
  [HUE_KERNEL]: adjustHueKernel,
};

/** The addon functions of kernels added after the first release, checked at registration. */
const ENTRY_POINTS: Record<string, keyof Addon> = {
  [UPDATE_KERNELS.lars]: 'larsUpdate',
  [UPDATE_KERNELS.ema]: 'emaUpdate',
  [HUE_KERNEL]: 'adjustHue',
  [ADD_RELU_KERNEL]: 'addRelu',
};

/** The tfjs kernels the native engine provides for the `wasm` backend. */
export const NATIVE_KERNELS: readonly string[] = Object.keys(NATIVE);

const replaced = new Map<string, KernelConfig>();
const registered = new Map<string, KernelConfig>();
const setUp = new WeakMap<object, Set<string>>();

function fallback(
  name: string,
  why: string,
  args: Parameters<KernelFunc>[0],
): TensorInfo | TensorInfo[] {
  const prev = replaced.get(name);
  stats.fallback[`${name}: ${why}`] = (stats.fallback[`${name}: ${why}`] ?? 0) + 1;
  if (prev === undefined) {
    throw new Error(
      `${name}: the native kernel does not cover this call (${why}) and no wasm kernel is registered`,
    );
  }
  // A kernel replaced before the backend was set up never had its setupFunc run.
  const done = setUp.get(args.backend) ?? new Set<string>();
  if (!done.has(name) && prev.setupFunc !== undefined) prev.setupFunc(args.backend);
  done.add(name);
  setUp.set(args.backend, done);
  return prev.kernelFunc(args);
}

/** tfjs's own ReLU gradient, for backends without {@link RELU_GRAD_KERNEL}. */
function tfjsReluGrad(dy: Tensor, x: Tensor): Tensor {
  return mul(dy, cast(step(x), 'float32'));
}

const nativeGrad = Symbol('ediyNative');

/**
 * Registers a `Relu` gradient that runs {@link RELU_GRAD_KERNEL} on a backend that has it
 * (one pass instead of three kernels and two temporaries the size of the map) and tfjs's
 * `dy * step(x)` elsewhere. The gradient registry is global, so it keeps the other
 * backends' path. Registered again if something (an import of tfjs-layers, say) put
 * tfjs's back.
 */
function registerReluGradient(): void {
  const current = getGradient('Relu') as (GradConfig & { [nativeGrad]?: true }) | undefined;
  if (current?.[nativeGrad] === true) return;
  const config: GradConfig & { [nativeGrad]: true } = {
    [nativeGrad]: true,
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as [Tensor];
      const g = dy as Tensor;
      return {
        x: () =>
          g.dtype === 'float32' &&
          x.dtype === 'float32' &&
          getKernel(RELU_GRAD_KERNEL, getBackend()) !== undefined
            ? (engine().runKernel(RELU_GRAD_KERNEL, { dy: g, x }) as Tensor)
            : tfjsReluGrad(g, x),
      };
    },
  };
  registerGradient(config);
}

/**
 * Registers {@link NATIVE_KERNELS} for the `wasm` backend over whatever is registered
 * now (tfjs-backend-wasm's kernels, or ediy's wasm training kernels), keeping those for
 * the calls the native kernels do not cover. Call it after the wasm backend package is
 * imported. Safe to call repeatedly.
 * @returns the kernel names this call registered.
 * @internal
 */
export function registerKernels(addon: Addon): string[] {
  registerReluGradient();
  const done: string[] = [];
  for (const [name, kernel] of Object.entries(NATIVE)) {
    // An addon built before a kernel's entry point existed: that kernel stays unregistered.
    const entry = ENTRY_POINTS[name];
    if (entry !== undefined && typeof addon[entry] !== 'function') continue;
    const current = getKernel(name, 'wasm');
    if (current !== undefined && current === registered.get(name)) continue;
    if (current !== undefined) {
      replaced.set(name, current);
      unregisterKernel(name, 'wasm');
    }
    const config: KernelConfig & { ediyNative: true } = {
      ediyNative: true,
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: (args) => {
        try {
          const out = kernel(
            addon,
            args.backend as unknown as WasmBackendLike,
            args.inputs,
            args.attrs ?? {},
          );
          stats.native[name] = (stats.native[name] ?? 0) + 1;
          return out;
        } catch (err) {
          if (err instanceof Unsupported) return fallback(name, err.message, args);
          throw err;
        }
      },
    };
    registerKernel(config);
    registered.set(name, config);
    done.push(name);
  }
  return done;
}

/**
 * Puts back the kernels {@link registerKernels} replaced (for comparisons and tests).
 * @returns the kernel names restored.
 * @internal
 */
export function unregisterKernels(): string[] {
  const done: string[] = [];
  for (const [name, config] of registered) {
    if (getKernel(name, 'wasm') !== config) continue;
    unregisterKernel(name, 'wasm');
    const prev = replaced.get(name);
    if (prev !== undefined) registerKernel(prev);
    done.push(name);
  }
  registered.clear();
  replaced.clear();
  return done;
}

/**
 * The kernel that the native engine replaced under `name`, if any.
 * @internal
 */
export function replacedKernel(name: string): KernelConfig | undefined {
  return replaced.get(name);
}
