/**
 * `UnsortedSegmentSum` for tfjs-backend-wasm, which has none; it is the gradient of
 * `tf.gather`, so without it nothing gathered can be trained on wasm.
 */
import { UnsortedSegmentSum } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * out[s, ...] = sum of x[n, ...] over the positions n whose segment id is s, for
 * `segmentIds` of a shape that is a prefix of `x`'s. Negative ids are dropped (as in
 * TensorFlow); ids >= numSegments are an error. One pass over x in wasm memory.
 */
const unsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as { numSegments: number };
  const wasm = backend as BackendWasm;
  if (!Number.isInteger(numSegments) || numSegments < 1) {
    throw new Error(
      `UnsortedSegmentSum: numSegments must be a positive integer, got ${String(numSegments)}`,
    );
  }
  const idsRank = segmentIds.shape.length;
  if (segmentIds.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(
      `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape.join(',')}] must be a prefix of x shape [${x.shape.join(',')}]`,
    );
  }
  if (segmentIds.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum: segmentIds must be int32, got ${segmentIds.dtype}`);
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32 x, got ${x.dtype}`);
  }
  const inner = x.shape.slice(idsRank).reduce((p, d) => p * d, 1);
  const out = wasm.makeOutput([numSegments, ...x.shape.slice(idsRank)], x.dtype);
  // Views are taken after the allocation above, which may grow (and move) wasm memory.
  const values = wasm.typedArrayFromHeap(x);
  const ids = wasm.typedArrayFromHeap(segmentIds);
  const sums = wasm.typedArrayFromHeap(out);
  sums.fill(0);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n] as number;
    if (id < 0) continue;
    if (id >= numSegments) {
      wasm.disposeData(out.dataId);
      throw new Error(
        `UnsortedSegmentSum: segmentIds[${n}] = ${id} is out of range [0, ${numSegments})`,
      );
    }
    const from = n * inner;
    const to = id * inner;
    for (let j = 0; j < inner; j++)
      sums[to + j] = (sums[to + j] as number) + (values[from + j] as number);
  }
  return out;
};

/** `UnsortedSegmentSum` on wasm, so that `tf.gather` has a gradient. */
export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum,
};
