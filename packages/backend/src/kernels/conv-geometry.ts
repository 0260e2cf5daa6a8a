/**
 * The geometry of a 2-D convolution as the gradient kernels need it, from the attributes
 * tfjs passes to them.
 */
import { backend_util } from '@tensorflow/tfjs-core';

/** Spatial sizes, strides, dilations and padding of one NHWC convolution. */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  /** Output channels (for a depthwise conv: in channels times the multiplier). */
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  /** Padding above the input (the forward conv's top pad). */
  padTop: number;
  /** Padding left of the input. */
  padLeft: number;
}

/** What a gradient kernel receives about its forward convolution. */
export interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dilations?: number | [number, number];
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Computes the geometry of the forward convolution of an `xShape` input with a
 * `filterShape` filter, and checks that `dyShape` is its output shape.
 * @throws for a data format other than NHWC, and for a `dy` of the wrong shape.
 */
export function convGeometry(
  kernelName: string,
  xShape: readonly number[],
  filterShape: readonly number[],
  dyShape: readonly number[],
  attrs: ConvAttrs,
  depthwise: boolean,
): ConvGeometry {
  const format = attrs.dataFormat ?? 'NHWC';
  if (format !== 'NHWC') {
    throw new Error(
      `${kernelName} on wasm supports dataFormat 'NHWC' only, got '${String(format)}'`,
    );
  }
  if (xShape.length !== 4 || filterShape.length !== 4 || dyShape.length !== 4) {
    throw new Error(
      `${kernelName} needs rank-4 input [B,H,W,C], filter [kh,kw,in,out] and dy [B,oh,ow,out]; got [${xShape.join(',')}], [${filterShape.join(',')}], [${dyShape.join(',')}]`,
    );
  }
  const info = backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
  if (info.inChannels !== filterShape[2]) {
    throw new Error(
      `${kernelName}: input has ${info.inChannels} channels but the filter [${filterShape.join(',')}] expects ${String(filterShape[2])}`,
    );
  }
  const want = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  if (want.some((d, i) => d !== dyShape[i])) {
    throw new Error(
      `${kernelName}: dy must have shape [${want.join(',')}], got [${dyShape.join(',')}]`,
    );
  }
  if (
    (info.strideHeight > 1 && info.dilationHeight > 1) ||
    (info.strideWidth > 1 && info.dilationWidth > 1)
  ) {
    throw new Error(
      `${kernelName}: strides and dilations cannot both exceed 1 on one axis; got strides [${info.strideHeight},${info.strideWidth}], dilations [${info.dilationHeight},${info.dilationWidth}]`,
    );
  }
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}
