/**
 * Calls to tfjs-backend-wasm's own kernels on `TensorInfo`s, from inside another wasm
 * kernel, with every intermediate result freed when the caller is done.
 */
import { getKernel } from '@tensorflow/tfjs-core';
import type {
  KernelBackend,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  flippedTransposedFilter,
  interleavePhases,
  stridedWindow,
  transposedPatches,
} from './heap-copies.js';
import type { AxisRange } from './heap-copies.js';

/** Explicit spatial padding `[top, bottom, left, right]`; negative entries crop. */
export type SpatialPads = readonly [number, number, number, number];

/**
 * A scope of wasm kernel calls. Each call's output is owned by the scope and freed by
 * {@link WasmCalls.dispose}, except the one handed out with {@link WasmCalls.keep}.
 */
export class WasmCalls {
  private readonly made: TensorInfo[] = [];
  /** The wasm backend the calls run on. */
  readonly backend: KernelBackend;

  /** @param backend - the wasm backend the calling kernel received. */
  constructor(backend: object) {
    this.backend = backend as KernelBackend;
  }

  /**
   * Runs `body` in a fresh scope on `backend` and returns its result, which the caller
   * owns; every other tensor the scope made is freed, also when `body` throws.
   */
  static scoped(backend: object, body: (calls: WasmCalls) => TensorInfo): TensorInfo {
    const calls = new WasmCalls(backend);
    try {
      return calls.keep(body(calls));
    } finally {
      calls.dispose();
    }
  }

  /** Runs the wasm kernel `kernelName`; the scope owns the result. */
  run(kernelName: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const kernel = getKernel(kernelName, 'wasm');
    if (kernel === undefined) {
      throw new Error(
        `tfjs-backend-wasm has no '${kernelName}' kernel, which the training kernels need`,
      );
    }
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) {
      for (const t of out) this.made.push(t);
      throw new Error(`wasm kernel '${kernelName}' returned ${out.length} outputs, expected one`);
    }
    this.made.push(out);
    return out;
  }

  /** Takes `t` out of the scope: the caller now owns it (a kernel returns it to the engine). */
  keep(t: TensorInfo): TensorInfo {
    const i = this.made.lastIndexOf(t);
    if (i < 0) throw new Error('keep() got a tensor this scope did not make');
    this.made.splice(i, 1);
    return t;
  }

  /** Frees `t`, a result of this scope, before the scope ends. */
  release(t: TensorInfo): void {
    const i = this.made.lastIndexOf(t);
    if (i < 0) throw new Error('release() got a tensor this scope did not make');
    this.made.splice(i, 1);
    this.backend.disposeData(t.dataId);
  }

  /** Frees every result the scope still owns. */
  dispose(): void {
    for (const t of this.made) this.backend.disposeData(t.dataId);
    this.made.length = 0;
  }

  /** Puts `t`, made directly by the backend, under the scope's ownership. */
  adopt(t: TensorInfo): TensorInfo {
    this.made.push(t);
    return t;
  }

  /** See {@link flippedTransposedFilter}. */
  flippedFilter(filter: TensorInfo, rows: AxisRange, cols: AxisRange): TensorInfo {
    return this.adopt(
      flippedTransposedFilter(this.backend as unknown as BackendWasm, filter, rows, cols),
    );
  }

  /** See {@link stridedWindow}. */
  window(x: TensorInfo, rows: AxisRange, cols: AxisRange): TensorInfo {
    return this.adopt(stridedWindow(this.backend as unknown as BackendWasm, x, rows, cols));
  }

  /** See {@link transposedPatches}. */
  patchesT(
    x: TensorInfo,
    kernel: Parameters<typeof transposedPatches>[2],
    oh: number,
    ow: number,
  ): TensorInfo {
    return this.adopt(transposedPatches(this.backend as unknown as BackendWasm, x, kernel, oh, ow));
  }

  /** See {@link interleavePhases}. */
  interleave(
    phases: ReadonlyArray<TensorInfo | null>,
    sh: number,
    sw: number,
    shape: [number, number, number, number],
  ): TensorInfo {
    return this.adopt(
      interleavePhases(this.backend as unknown as BackendWasm, phases, sh, sw, shape),
    );
  }

  /** A view of `x` with another shape (shares memory). */
  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /** `x` with its axes permuted. */
  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** `x` padded with zeros, `paddings[i] = [before, after]` (non-negative). */
  pad(x: TensorInfo, paddings: Array<[number, number]>): TensorInfo {
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  /** The block of `x` at `begin` of extent `size`. */
  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  /** `x` reversed along `dims`. */
  reverse(x: TensorInfo, dims: number[]): TensorInfo {
    return this.run('Reverse', { x }, { dims });
  }

  /** `xs` joined along `axis`. */
  concat(xs: TensorInfo[], axis: number): TensorInfo {
    // tfjs passes Concat's inputs as an array.
    return this.run('Concat', xs as unknown as NamedTensorInfoMap, { axis });
  }

  /** Plain matrix product `a @ b` of rank-2 (or batched rank-3) tensors. */
  matMul(a: TensorInfo, b: TensorInfo): TensorInfo {
    // wasm's transposed-operand paths are an order of magnitude slower: callers transpose first.
    return this.run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
  }

  /** Elementwise product with broadcasting. */
  mul(a: TensorInfo, b: TensorInfo): TensorInfo {
    return this.run('Multiply', { a, b });
  }

  /** Sum over `axis`. */
  sum(x: TensorInfo, axis: number[]): TensorInfo {
    return this.run('Sum', { x }, { axis, keepDims: false });
  }

  /**
   * NHWC convolution (XNNPACK) of `x` with an HWIO `filter`, stride `strides`, dilation
   * `dilations` and explicit `pads`; negative pads crop `x` first. With `depthwise` the
   * filter is `[kh, kw, C, multiplier]`.
   */
  conv(
    x: TensorInfo,
    filter: TensorInfo,
    pads: SpatialPads,
    strides: [number, number] = [1, 1],
    dilations: [number, number] = [1, 1],
    depthwise = false,
  ): TensorInfo {
    const [input, [top, bottom, left, right]] = this.crop(x, pads);
    const pad = [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ];
    return this.run(
      depthwise ? 'DepthwiseConv2dNative' : 'Conv2D',
      { x: input, filter },
      { strides, dilations, pad, dataFormat: 'NHWC' },
    );
  }

  /** Crops NHWC `x` where `pads` are negative; returns the cropped tensor and the pads left. */
  crop(x: TensorInfo, pads: SpatialPads): [TensorInfo, [number, number, number, number]] {
    const [top, bottom, left, right] = pads;
    if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0) return [x, [top, bottom, left, right]];
    const [b, h, w, c] = x.shape as [number, number, number, number];
    const t = Math.max(0, -top);
    const l = Math.max(0, -left);
    const rows = h - t - Math.max(0, -bottom);
    const cols = w - l - Math.max(0, -right);
    if (rows <= 0 || cols <= 0) {
      throw new Error(
        `padding [${pads.join(',')}] crops all of a tensor of shape [${x.shape.join(',')}]`,
      );
    }
    const cropped = this.slice(x, [0, t, l, 0], [b, rows, cols, c]);
    return [
      cropped,
      [Math.max(0, top), Math.max(0, bottom), Math.max(0, left), Math.max(0, right)],
    ];
  }
}
