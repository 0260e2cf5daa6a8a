/**
 * Image resampling on byte arrays: separable bilinear (triangle) filtering whose support
 * widens when shrinking, so downscaled images are antialiased (as PIL's BILINEAR).
 */
import { assertInteger } from '@ediy/core';

/** A decoded image: `height*width*channels` bytes, row-major, channels interleaved. */
export interface RawImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels per pixel. */
  channels: number;
  /** The pixel bytes. */
  data: Uint8Array;
}

/** How an image of another aspect ratio becomes a square. */
export type ResizeFit = 'center-crop' | 'stretch';

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  width: number;
}

/** Filter taps for mapping `[from, from+len)` of the source onto `out` samples. */
function taps(from: number, len: number, out: number): Taps {
  const scale = len / out;
  const support = Math.max(scale, 1);
  const width = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(out);
  const count = new Int32Array(out);
  const weights = new Float32Array(out * width);
  for (let i = 0; i < out; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(len, Math.ceil(centre + support));
    let sum = 0;
    let k = 0;
    for (let j = lo; j < hi && k < width; j++, k++) {
      const wgt = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
      weights[i * width + k] = wgt;
      sum += wgt;
    }
    if (sum === 0) {
      // a sample between two source pixels at an exact boundary: take the nearest
      weights[i * width] = 1;
      sum = 1;
      k = Math.max(k, 1);
    }
    for (let t = 0; t < k; t++) weights[i * width + t] = (weights[i * width + t] as number) / sum;
    start[i] = from + lo;
    count[i] = k;
  }
  return { start, count, weights, width };
}

/**
 * Resizes `image` to `size x size`. `center-crop` (default) takes the largest centred
 * square first, so nothing is distorted; `stretch` maps the whole image.
 * @returns a new `size*size*channels` byte array.
 * @throws when `size` or the image's dimensions are not positive integers, or its data
 *   is not `width*height*channels` long.
 */
export function resizeSquare(
  image: RawImage,
  size: number,
  fit: ResizeFit = 'center-crop',
): Uint8Array {
  const { width: w, height: h, channels: c, data } = image;
  assertInteger(size, 1, 'resizeSquare: size');
  assertInteger(w, 1, 'resizeSquare: image.width');
  assertInteger(h, 1, 'resizeSquare: image.height');
  assertInteger(c, 1, 'resizeSquare: image.channels');
  if (data.length !== w * h * c) {
    throw new Error(
      `resizeSquare: image.data must hold ${w}x${h}x${c} = ${w * h * c} bytes, got ${data.length}`,
    );
  }
  let x0 = 0;
  let y0 = 0;
  let cw = w;
  let ch = h;
  if (fit === 'center-crop') {
    const side = Math.min(w, h);
    x0 = Math.floor((w - side) / 2);
    y0 = Math.floor((h - side) / 2);
    cw = side;
    ch = side;
  }
  const tx = taps(x0, cw, size);
  const ty = taps(y0, ch, size);
  // horizontal pass over the rows the vertical pass needs: [y0, y0+ch) x size x c
  const mid = new Float32Array(ch * size * c);
  for (let y = 0; y < ch; y++) {
    const row = (y0 + y) * w * c;
    for (let x = 0; x < size; x++) {
      const s = tx.start[x] as number;
      const n = tx.count[x] as number;
      for (let k = 0; k < c; k++) {
        let acc = 0;
        for (let t = 0; t < n; t++)
          acc += (data[row + (s + t) * c + k] as number) * (tx.weights[x * tx.width + t] as number);
        mid[(y * size + x) * c + k] = acc;
      }
    }
  }
  const out = new Uint8Array(size * size * c);
  for (let y = 0; y < size; y++) {
    const s = (ty.start[y] as number) - y0;
    const n = ty.count[y] as number;
    for (let x = 0; x < size; x++) {
      for (let k = 0; k < c; k++) {
        let acc = 0;
        for (let t = 0; t < n; t++)
          acc +=
            (mid[((s + t) * size + x) * c + k] as number) *
            (ty.weights[y * ty.width + t] as number);
        out[(y * size + x) * c + k] = Math.min(255, Math.max(0, Math.round(acc)));
      }
    }
  }
  return out;
}
