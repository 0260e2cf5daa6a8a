/**
 * `Conv2DBackpropFilter` for tfjs-backend-wasm, which has none: the gradient of a conv
 * with respect to its filter, computed with wasm's XNNPACK forward convolution.
 */
import { Conv2DBackpropFilter } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { convGeometry } from './conv-geometry.js';
import type { ConvAttrs, ConvGeometry } from './conv-geometry.js';
import { WasmCalls } from './wasm-calls.js';

/**
 * Up to this many patch rows (kh*kw*Cin), the filter gradient is a matmul of the
 * transposed patch matrix with dy: a conv with so few input channels (a 3-channel image
 * stem) keeps XNNPACK's transposed-operand conv from using its vector width.
 */
const PATCH_ROWS_LIMIT = 32;

/**
 * dW = sum over batch and output positions of x-patch ⊗ dy. With the batch moved into
 * the channel axis, this is itself a convolution: the input `x` transposed to
 * `[Cin, H, W, B]` (input channels become the batch) convolved with `dy` transposed to
 * `[oh, ow, B, Cout]` as the filter, dilated by the forward stride, gives
 * `[Cin, kh, kw, Cout]`. A 1x1 filter, or a filter over few input channels, is a single
 * matrix product `patches^T [kh*kw*Cin, N] @ dy [N, Cout]` over the N output positions.
 */
function filterGradient(
  calls: WasmCalls,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  const {
    batch,
    inHeight: H,
    inWidth: W,
    inChannels: ci,
    outHeight: oh,
    outWidth: ow,
    outChannels: co,
  } = g;
  const {
    filterHeight: kh,
    filterWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
    padTop,
    padLeft,
  } = g;
  if (kh * kw * ci <= PATCH_ROWS_LIMIT || kh * kw === 1) {
    const patches = calls.patchesT(x, { kh, kw, sh, sw, dh: 1, dw: 1, padTop, padLeft }, oh, ow);
    const dw = calls.matMul(patches, calls.reshape(dy, [batch * oh * ow, co]));
    return calls.reshape(dw, [kh, kw, ci, co]);
  }
  const xt = calls.transpose(x, [3, 1, 2, 0]);
  const dyt = calls.transpose(dy, [1, 2, 0, 3]);
  const padBottom = (oh - 1) * sh + kh - H - padTop;
  const padRight = (ow - 1) * sw + kw - W - padLeft;
  const dw = calls.conv(xt, dyt, [padTop, padBottom, padLeft, padRight], [1, 1], [sh, sw]);
  return calls.transpose(dw, [1, 2, 0, 3]);
}

const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  const g = convGeometry(
    Conv2DBackpropFilter,
    x.shape,
    a.filterShape,
    dy.shape,
    { ...a, dilations: 1 },
    false,
  );
  return WasmCalls.scoped(backend, (calls) => filterGradient(calls, x, dy, g));
};

/** `Conv2DBackpropFilter` on wasm: a forward conv of transposed operands, or one matmul for 1x1 filters and few input channels. */
export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter,
};
