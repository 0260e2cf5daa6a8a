/**
 * `DepthwiseConv2dNativeBackpropInput` for tfjs-backend-wasm, which has none: the
 * gradient of a depthwise conv with respect to its input.
 */
import { DepthwiseConv2dNativeBackpropInput } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { convGeometry } from './conv-geometry.js';
import type { ConvAttrs, ConvGeometry } from './conv-geometry.js';
import { WasmCalls } from './wasm-calls.js';

/**
 * dx[c] = sum_m (dy[c*M + m] correlated with the flipped filter[:, :, c, m]): a depthwise
 * conv of dy (multiplier 1) with the spatially flipped filter reshaped to
 * `[kh, kw, C*M, 1]`, then a sum over the multiplier. A stride s > 1 first spreads dy
 * onto the input grid with s-1 zeros between rows and columns.
 */
function depthwiseInputGradient(
  calls: WasmCalls,
  dy: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  const {
    batch,
    inHeight: H,
    inWidth: W,
    inChannels: c,
    outHeight: oh,
    outWidth: ow,
    outChannels: cm,
  } = g;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = g;
  const { dilationHeight: dh, dilationWidth: dw, padTop, padLeft } = g;
  let spread = dy;
  if (sh > 1 || sw > 1) {
    const grid = calls.pad(calls.reshape(dy, [batch, oh, 1, ow, 1, cm]), [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    spread = calls.reshape(grid, [batch, oh * sh, ow * sw, cm]);
  }
  const [rows, cols] = [spread.shape[1] as number, spread.shape[2] as number];
  const flipped = calls.reshape(calls.reverse(filter, [0, 1]), [kh, kw, cm, 1]);
  const top = (kh - 1) * dh - padTop;
  const left = (kw - 1) * dw - padLeft;
  const pads = [
    top,
    H + (kh - 1) * dh - top - rows,
    left,
    W + (kw - 1) * dw - left - cols,
  ] as const;
  const dx = calls.conv(spread, flipped, pads, [1, 1], [dh, dw], true);
  return cm === c ? dx : calls.sum(calls.reshape(dx, [batch, H, W, c, cm / c]), [4]);
}

const depthwiseConv2dNativeBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  const g = convGeometry(
    DepthwiseConv2dNativeBackpropInput,
    a.inputShape,
    filter.shape,
    dy.shape,
    a,
    true,
  );
  return WasmCalls.scoped(backend, (calls) => depthwiseInputGradient(calls, dy, filter, g));
};

/** `DepthwiseConv2dNativeBackpropInput` on wasm: a depthwise conv of dy with the flipped filter. */
export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropInput,
};
