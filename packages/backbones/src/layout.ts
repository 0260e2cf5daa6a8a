/**
 * Conv kernel layout conversions between PyTorch (OIHW) and TensorFlow (HWIO).
 */

/** Reorders an OIHW kernel `[O, I, H, W]` to HWIO `[H, W, I, O]`. */
export function oihwToHwio(data: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [o, i, h, w] = checkKernel(data, shape, 'OIHW');
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          out[((y * w + x) * i + b) * o + a] = data[((a * i + b) * h + y) * w + x] as number;
  return out;
}

/** Reorders an HWIO kernel `[H, W, I, O]` to OIHW `[O, I, H, W]`. */
export function hwioToOihw(data: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [h, w, i, o] = checkKernel(data, shape, 'HWIO');
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let b = 0; b < i; b++)
        for (let a = 0; a < o; a++)
          out[((a * i + b) * h + y) * w + x] = data[((y * w + x) * i + b) * o + a] as number;
  return out;
}

function checkKernel(
  data: ArrayLike<number>,
  shape: readonly number[],
  layout: string,
): [number, number, number, number] {
  if (shape.length !== 4 || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new RangeError(
      `${layout} kernel shape must be 4 non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
  const n = shape.reduce((x, y) => x * y, 1);
  if (data.length !== n) {
    throw new RangeError(
      `${layout} kernel of shape ${JSON.stringify(shape)} needs ${n} values, got ${data.length}`,
    );
  }
  return shape as unknown as [number, number, number, number];
}
