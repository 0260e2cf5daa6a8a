/**
 * Batched access to a set of images given as a tensor, a host array or a bare
 * Float32Array with its shape.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, assertShape, type HostArray } from '@ediy/core';

/** Images [n,H,W,C]: a tensor (never disposed by ediy), a host array, or a Float32Array with `shape`. */
export type ImagesInput = tf.Tensor4D | HostArray | Float32Array;

/** A validated image set that hands out batches as new tensors. */
export interface ImageBatches {
  /** [n,H,W,C]. */
  readonly shape: readonly [number, number, number, number];
  /** Images `start .. start+size-1` as a new tensor the caller disposes. */
  batch(start: number, size: number): tf.Tensor4D;
}

/**
 * Validates `images` ([n,H,W,C], float32; a bare Float32Array needs `shape`) and
 * returns a batch reader.
 */
export function imageBatches(
  images: ImagesInput,
  shape: readonly number[] | undefined,
  name: string,
): ImageBatches {
  if (images instanceof Float32Array) {
    if (!shape)
      throw new Error(`${name} is a Float32Array, so options.shape [n,H,W,C] is required`);
    return imageBatches({ data: images, shape }, undefined, name);
  }
  if (images === null || typeof images !== 'object' || !('shape' in images)) {
    throw new TypeError(
      `${name} must be a tf.Tensor4D, {data, shape} or a Float32Array, got ${String(images)}`,
    );
  }
  const d = assertShape({ shape: [...images.shape] }, ['n', 'H', 'W', 'C'], name);
  const dims = [d.n, d.H, d.W, d.C] as [number, number, number, number];
  assertInteger(dims[0], 1, `${name} count`);
  if (images instanceof tf.Tensor) {
    if (images.dtype !== 'float32')
      throw new TypeError(`${name} must have dtype float32, got ${images.dtype}`);
    const t = images;
    return {
      shape: dims,
      batch: (start, size) => tf.slice(t, [start, 0, 0, 0], [size, -1, -1, -1]),
    };
  }
  const data = images.data;
  if (!(data instanceof Float32Array)) throw new TypeError(`${name}.data must be a Float32Array`);
  const per = dims[1] * dims[2] * dims[3];
  if (data.length !== dims[0] * per) {
    throw new Error(
      `${name}.data has ${data.length} values but shape [${dims.join(',')}] needs ${dims[0] * per}`,
    );
  }
  return {
    shape: dims,
    batch: (start, size) =>
      tf.tensor4d(data.subarray(start * per, (start + size) * per), [
        size,
        dims[1],
        dims[2],
        dims[3],
      ]),
  };
}
