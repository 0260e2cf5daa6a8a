/**
 * `DepthwiseConv2dNativeBackpropFilter` for tfjs-backend-wasm, which has none: the
 * gradient of a depthwise conv with respect to its filter.
 */
import { DepthwiseConv2dNativeBackpropFilter } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { convGeometry } from './conv-geometry.js';
import type { ConvAttrs, ConvGeometry } from './conv-geometry.js';
import { WasmCalls } from './wasm-calls.js';

/**
 * dW[i, j, c, m] = sum over batch and output positions of
 * x[b, o*s + i*d - pad, c] * dy[b, o, c*M + m]: for each filter tap, the strided window
 * of the zero-padded input times dy, summed over batch and positions.
 */
function depthwiseFilterGradient(
  calls: WasmCalls,
  x: TensorInfo,
  dy: TensorInfo,
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
  const mult = cm / c;
  const bottom = Math.max(0, (oh - 1) * sh + (kh - 1) * dh - padTop - (H - 1));
  const right = Math.max(0, (ow - 1) * sw + (kw - 1) * dw - padLeft - (W - 1));
  const padded = calls.pad(x, [
    [0, 0],
    [padTop, bottom],
    [padLeft, right],
    [0, 0],
  ]);
  const grad = mult === 1 ? dy : calls.reshape(dy, [batch, oh, ow, c, mult]);
  const taps: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const window = calls.window(
        padded,
        { start: i * dh, step: sh, count: oh },
        { start: j * dw, step: sw, count: ow },
      );
      const product = calls.mul(
        mult === 1 ? window : calls.reshape(window, [batch, oh, ow, c, 1]),
        grad,
      );
      calls.release(window);
      taps.push(calls.reshape(calls.sum(product, [0, 1, 2]), [1, cm]));
      calls.release(product);
    }
  }
  return calls.reshape(calls.concat(taps, 0), [kh, kw, c, mult]);
}

const depthwiseConv2dNativeBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  const g = convGeometry(
    DepthwiseConv2dNativeBackpropFilter,
    x.shape,
    a.filterShape,
    dy.shape,
    a,
    true,
  );
  return WasmCalls.scoped(backend, (calls) => depthwiseFilterGradient(calls, x, dy, g));
};

/** `DepthwiseConv2dNativeBackpropFilter` on wasm: per filter tap, a strided window times dy, summed. */
export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropFilter,
};
