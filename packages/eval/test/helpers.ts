import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '@ediy/core';
import type { HostArray } from '@ediy/eval';

/** n rows of C features: class c is a bump on channel c plus noise; labels cycle. */
export function separable(
  n: number,
  C: number,
  numClasses: number,
  seed: number,
  noise = 0.3,
): { x: HostArray; y: Int32Array } {
  const rng = new Rng(seed);
  const data = new Float32Array(n * C);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(numClasses);
    y[i] = c;
    for (let j = 0; j < C; j++) data[i * C + j] = noise * rng.normal() + (j === c ? 3 : 0);
  }
  return { x: { data, shape: [n, C] }, y };
}

/** Gaussian features with labels that carry no information about them. */
export function randomTask(
  n: number,
  C: number,
  numClasses: number,
  seed: number,
): { x: HostArray; y: Int32Array } {
  const rng = new Rng(seed);
  const data = Float32Array.from({ length: n * C }, () => rng.normal());
  const y = Int32Array.from({ length: n }, () => rng.int(numClasses));
  return { x: { data, shape: [n, C] }, y };
}

/** A two-output [map, pooled] model: stride-2 3x3 conv (relu) and global average pooling. */
export function tinyModel(size = 8, filters = 4, seed = 1): tfl.LayersModel {
  const input = tfl.input({ shape: [size, size, 3] });
  const map = tfl.layers
    .conv2d({
      filters,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      biasInitializer: tfl.initializers.constant({ value: 0.1 }),
    })
    .apply(input) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(map) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: [map, pooled] });
}

/** Random images [n,H,W,3] in [0,1] as a host array. */
export function randomImages(n: number, size: number, seed: number): HostArray {
  const rng = new Rng(seed);
  return {
    data: Float32Array.from({ length: n * size * size * 3 }, () => rng.next()),
    shape: [n, size, size, 3],
  };
}

/** Number of live tensors after running `fn` minus before. */
export function leakedBy(fn: () => void): number {
  const before = tf.memory().numTensors;
  fn();
  return tf.memory().numTensors - before;
}

/**
 * A segmentation task whose maps [n,h,w,C] encode the class of each region (a bump
 * on channel = class, plus noise) and whose masks [n,2h,2w] repeat each region's class
 * over its 2x2 block of pixels.
 */
export function regionTask(
  n: number,
  h: number,
  w: number,
  numClasses: number,
  seed: number,
): { maps: HostArray; masks: HostArray<Int32Array> } {
  const rng = new Rng(seed);
  const C = numClasses + 1;
  const maps = new Float32Array(n * h * w * C);
  const masks = new Int32Array(n * 4 * h * w);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const cls = rng.int(numClasses);
        for (let c = 0; c < C; c++)
          maps[((i * h + y) * w + x) * C + c] = (c === cls ? 2 : 0) + 0.2 * rng.normal();
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) masks[(i * 2 * h + 2 * y + dy) * 2 * w + 2 * x + dx] = cls;
        }
      }
    }
  }
  return {
    maps: { data: maps, shape: [n, h, w, C] },
    masks: { data: masks, shape: [n, 2 * h, 2 * w] },
  };
}
