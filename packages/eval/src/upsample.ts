/**
 * Bilinear upsampling written as two matrix products, so that it differentiates on
 * every backend with nothing but MatMul (tfjs-backend-wasm lacks some gradient
 * kernels; MatMul's gradient is MatMul).
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, assertShape } from '@ediy/core';

/**
 * The [outSize, inSize] matrix of 1-D linear interpolation with half-pixel centres
 * (`align_corners=False` in PyTorch; `tf.image.resizeBilinear(x, size, false, true)`):
 * output i samples the input at (i + 0.5) * inSize / outSize - 0.5, clamped to
 * [0, inSize - 1]. Each row sums to 1.
 */
export function bilinearMatrix(outSize: number, inSize: number): Float32Array {
  assertInteger(outSize, 1, 'outSize');
  assertInteger(inSize, 1, 'inSize');
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const src = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), inSize - 1);
    const i0 = Math.floor(src);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const frac = src - i0;
    m[i * inSize + i0] = (m[i * inSize + i0] as number) + (1 - frac);
    m[i * inSize + i1] = (m[i * inSize + i1] as number) + frac;
  }
  return m;
}

/**
 * Bilinear resize of x [B,h,w,K] to [B,H,W,K] with half-pixel centres: the same values
 * as `tf.image.resizeBilinear(x, [H, W], false, true)`, but built from MatMul,
 * transpose and reshape only, so `tf.grad` works through it on cpu and wasm alike.
 * Returns a new tensor (use inside `tf.tidy`).
 */
export function upsampleBilinear(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  assertShape(x, ['B', 'h', 'w', 'K'], 'upsampleBilinear input');
  const [B, h, w, K] = x.shape;
  const [H, W] = size;
  assertInteger(H, 1, 'output height');
  assertInteger(W, 1, 'output width');
  return tf.tidy(() => {
    const ry = tf.tensor2d(bilinearMatrix(H, h), [H, h]);
    const rx = tf.tensor2d(bilinearMatrix(W, w), [W, w]);
    // Rows: [B,h,w,K] -> [h, B*w*K], then Ry [H,h] @ it -> [H, B*w*K].
    const rows = tf.matMul(ry, tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, B * w * K]));
    // Columns: [H,B,w,K] -> [w, H*B*K], then Rx [W,w] @ it -> [W, H*B*K].
    const cols = tf.reshape(tf.transpose(tf.reshape(rows, [H, B, w, K]), [2, 0, 1, 3]), [
      w,
      H * B * K,
    ]);
    const out = tf.reshape(tf.matMul(rx, cols), [W, H, B, K]);
    return tf.transpose(out, [2, 1, 0, 3]) as tf.Tensor4D;
  });
}
