/**
 * Data movements the gradient kernels need, done as plain loops over wasm memory:
 * tfjs-backend-wasm's generic StridedSlice, Reverse and DepthToSpace kernels are far
 * slower than these for the shapes of conv gradients.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Every `step`-th index from `start`, `count` of them. */
export interface AxisRange {
  start: number;
  step: number;
  count: number;
}

/** A new float32 wasm tensor of `shape`; the caller owns it. */
function output(backend: BackendWasm, shape: number[]): TensorInfo {
  return backend.makeOutput(shape, 'float32');
}

/**
 * The HWIO `filter` flipped in space with in/out channels swapped, restricted to the
 * taps `rows` x `cols` of the flipped filter:
 * out[t, u, o, i] = filter[kh-1 - (rows.start + rows.step*t), kw-1 - (cols.start + cols.step*u), i, o].
 * @returns a new `[rows.count, cols.count, out, in]` tensor the caller owns.
 */
export function flippedTransposedFilter(
  backend: BackendWasm,
  filter: TensorInfo,
  rows: AxisRange,
  cols: AxisRange,
): TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const out = output(backend, [rows.count, cols.count, co, ci]);
  const w = backend.typedArrayFromHeap(filter);
  const o = backend.typedArrayFromHeap(out);
  let p = 0;
  for (let t = 0; t < rows.count; t++) {
    const i = kh - 1 - (rows.start + rows.step * t);
    for (let u = 0; u < cols.count; u++) {
      const j = kw - 1 - (cols.start + cols.step * u);
      const base = (i * kw + j) * ci * co;
      for (let oc = 0; oc < co; oc++) {
        for (let ic = 0; ic < ci; ic++) o[p++] = w[base + ic * co + oc] as number;
      }
    }
  }
  return out;
}

/**
 * The strided window of NHWC `x`: out[b, m, n, c] = x[b, rows.start + rows.step*m,
 * cols.start + cols.step*n, c]; the window must lie inside `x`.
 * @returns a new `[B, rows.count, cols.count, C]` tensor the caller owns.
 */
export function stridedWindow(
  backend: BackendWasm,
  x: TensorInfo,
  rows: AxisRange,
  cols: AxisRange,
): TensorInfo {
  const [b, h, w, c] = x.shape as [number, number, number, number];
  const lastRow = rows.start + rows.step * (rows.count - 1);
  const lastCol = cols.start + cols.step * (cols.count - 1);
  if (rows.start < 0 || cols.start < 0 || lastRow >= h || lastCol >= w) {
    throw new Error(
      `strided window rows ${rows.start}..${lastRow}, cols ${cols.start}..${lastCol} is outside [${x.shape.join(',')}]`,
    );
  }
  const out = output(backend, [b, rows.count, cols.count, c]);
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  let p = 0;
  for (let n = 0; n < b; n++) {
    for (let m = 0; m < rows.count; m++) {
      const row = (n * h + rows.start + rows.step * m) * w;
      for (let q = 0; q < cols.count; q++) {
        const from = (row + cols.start + cols.step * q) * c;
        dst.set(src.subarray(from, from + c), p);
        p += c;
      }
    }
  }
  return out;
}

/**
 * Interleaves the sub-pixel phases of a strided transposed conv into one NHWC tensor:
 * out[b, i, j, c] = phase[(i mod sh) * sw + (j mod sw)][b, floor(i/sh), floor(j/sw), c],
 * where a `null` phase is all zeros.
 * @returns a new `outShape` tensor the caller owns.
 */
export function interleavePhases(
  backend: BackendWasm,
  phases: ReadonlyArray<TensorInfo | null>,
  sh: number,
  sw: number,
  outShape: [number, number, number, number],
): TensorInfo {
  const [b, h, w, c] = outShape;
  const out = output(backend, outShape);
  const dst = backend.typedArrayFromHeap(out);
  const srcs = phases.map((t) => (t === null ? null : backend.typedArrayFromHeap(t)));
  const dims = phases.map((t) =>
    t === null ? [0, 0] : [t.shape[1] as number, t.shape[2] as number],
  );
  let p = 0;
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < h; i++) {
      const r = i % sh;
      const m = (i - r) / sh;
      for (let j = 0; j < w; j++) {
        const q = j % sw;
        const k = r * sw + q;
        const src = srcs[k];
        if (src === null || src === undefined) {
          dst.fill(0, p, p + c);
        } else {
          const [rows, cols] = dims[k] as [number, number];
          const from = ((n * rows + m) * cols + (j - q) / sw) * c;
          dst.set(src.subarray(from, from + c), p);
        }
        p += c;
      }
    }
  }
  return out;
}

/**
 * The transposed patch matrix of NHWC `x` for a conv with a `kh` x `kw` filter:
 * out[(i*kw + j)*C + c, (b*oh + m)*ow + n] = x[b, m*sh + i*dh - padTop, n*sw + j*dw - padLeft, c],
 * zero where that falls outside `x`.
 * @returns a new `[kh*kw*C, B*oh*ow]` tensor the caller owns.
 */
export function transposedPatches(
  backend: BackendWasm,
  x: TensorInfo,
  kernel: {
    kh: number;
    kw: number;
    sh: number;
    sw: number;
    dh: number;
    dw: number;
    padTop: number;
    padLeft: number;
  },
  oh: number,
  ow: number,
): TensorInfo {
  const [b, h, w, c] = x.shape as [number, number, number, number];
  const { kh, kw, sh, sw, dh, dw, padTop, padLeft } = kernel;
  const n = b * oh * ow;
  const out = output(backend, [kh * kw * c, n]);
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const tap = (i * kw + j) * c;
      for (let bi = 0; bi < b; bi++) {
        for (let m = 0; m < oh; m++) {
          const row = m * sh + i * dh - padTop;
          const col0 = (bi * oh + m) * ow;
          for (let q = 0; q < ow; q++) {
            const col = q * sw + j * dw - padLeft;
            const inside = row >= 0 && row < h && col >= 0 && col < w;
            const from = ((bi * h + row) * w + col) * c;
            for (let ch = 0; ch < c; ch++)
              dst[(tap + ch) * n + col0 + q] = inside ? (src[from + ch] as number) : 0;
          }
        }
      }
    }
  }
  return out;
}
