/**
 * Hue rotation in HSV space, as torchvision's `adjust_hue`, on [B,H,W,3] batches in
 * [0, 1]. The work is done on channel planes ([1,B,H,W] each, after one transpose),
 * where tfjs-backend-wasm is fast, instead of slicing the last axis.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertImageBatch, perImage } from './check.js';

/**
 * The one-call hue rotation a backend may provide (`@ediy/backend-native` registers it for
 * `wasm` under this name): inputs `images` ([B,H,W,3] float32) and `shifts` ([B] float32),
 * output [B,H,W,3], the bits of {@link adjustHue}'s composition of tfjs ops. Where it is
 * not registered, that composition runs.
 * @internal
 */
export const HUE_KERNEL = 'EdiyAdjustHue';

/** Guards the divisions of the HSV maps; below float32 resolution of values in [0, 1]. */
const TINY = 1e-12;

/** x mod 1, in [0, 1]. */
function frac(x: tf.Tensor): tf.Tensor {
  return tf.sub(x, tf.floor(x));
}

interface HsvPlanes {
  h: tf.Tensor4D;
  s: tf.Tensor4D;
  v: tf.Tensor4D;
}

/** The (h, s, v) planes, each [1,B,H,W], of a [B,H,W,3] batch (torchvision `_rgb2hsv`). */
function hsvPlanes(images: tf.Tensor4D): HsvPlanes {
  const [B, H, W] = images.shape;
  const [r, g, b] = tf.split(tf.transpose(images, [3, 0, 1, 2]), 3, 0) as [
    tf.Tensor4D,
    tf.Tensor4D,
    tf.Tensor4D,
  ];
  const v = tf.reshape(tf.max(images, 3), [1, B, H, W]) as tf.Tensor4D;
  const cr = tf.sub(v, tf.reshape(tf.min(images, 3), [1, B, H, W]));
  const s = tf.div(cr, tf.maximum(v, TINY)) as tf.Tensor4D;
  // h in sextants: red is max -> (g - b) / cr; green -> 2 + (b - r) / cr; blue -> 4 + (r - g) / cr
  const num = tf.where(
    tf.equal(v, r),
    tf.sub(g, b),
    tf.where(
      tf.equal(v, g),
      tf.add(tf.sub(b, r), tf.mul(cr, 2)),
      tf.add(tf.sub(r, g), tf.mul(cr, 4)),
    ),
  );
  const h6 = tf.div(num, tf.maximum(cr, TINY));
  const h = frac(tf.add(tf.mul(h6, 1 / 6), 1)) as tf.Tensor4D;
  return { h, s, v };
}

/**
 * A [B,H,W,3] RGB batch from (h, s, v) planes: channel n of (R, G, B) = (5, 3, 1) is
 * `v - v s clamp(min(k, 4 - k), 0, 1)` with `k = (n + 6 h) mod 6`, the closed form of
 * torchvision's `_hsv2rgb` sector table.
 */
function rgbFromPlanes({ h, s, v }: HsvPlanes): tf.Tensor4D {
  const h6 = tf.mul(h, 6);
  const vs = tf.mul(v, s);
  const planes = [5, 3, 1].map((n) => {
    // min(k, 4 - k) clamped to [0, 1] is continuous where k wraps from 6 to 0, so the
    // rounding of this mod near the wrap does not matter
    const k0 = tf.add(h6, n);
    const k = tf.sub(k0, tf.mul(tf.floor(tf.mul(k0, 1 / 6)), 6));
    return tf.sub(v, tf.mul(vs, tf.clipByValue(tf.minimum(k, tf.sub(4, k)), 0, 1)));
  });
  return tf.transpose(tf.concat(planes, 0), [1, 2, 3, 0]) as tf.Tensor4D;
}

/**
 * RGB to HSV, all in [0, 1]: `v = max`, `s = (max - min) / max` (0 where max = 0),
 * `h` in turns with red at 0, green at 1/3, blue at 2/3 (0 for grays).
 * @returns a new [B,H,W,3] tensor of (h, s, v) the caller owns.
 */
export function rgbToHsv(images: tf.Tensor4D): tf.Tensor4D {
  assertImageBatch(images);
  return tf.tidy(() => {
    const { h, s, v } = hsvPlanes(images);
    return tf.transpose(tf.concat([h, s, v], 0), [1, 2, 3, 0]) as tf.Tensor4D;
  });
}

/**
 * HSV to RGB, the inverse of {@link rgbToHsv}.
 * @returns a new [B,H,W,3] tensor of (r, g, b) the caller owns.
 */
export function hsvToRgb(hsv: tf.Tensor4D): tf.Tensor4D {
  assertImageBatch(hsv, 'hsv');
  return tf.tidy(() => {
    const [h, s, v] = tf.split(tf.transpose(hsv, [3, 0, 1, 2]), 3, 0) as [
      tf.Tensor4D,
      tf.Tensor4D,
      tf.Tensor4D,
    ];
    return rgbFromPlanes({ h, s, v });
  });
}

/**
 * Hue rotation: converts to HSV, adds `shift` (in turns, one per image, e.g. in
 * [-0.5, 0.5]) to the hue modulo 1, and converts back (torchvision `adjust_hue`).
 * @returns a new tensor the caller owns.
 */
export function adjustHue(images: tf.Tensor4D, shifts: ArrayLike<number>): tf.Tensor4D {
  const { B } = assertImageBatch(images);
  return tf.tidy(() => {
    const perShift = perImage(shifts, B, 'hue shifts');
    if (
      images.dtype === 'float32' &&
      images.size > 0 &&
      tf.getKernel(HUE_KERNEL, tf.getBackend()) !== undefined
    ) {
      return tf.engine().runKernel(HUE_KERNEL, {
        images,
        shifts: tf.reshape(perShift, [B]),
      }) as tf.Tensor4D;
    }
    const shift = tf.reshape(perShift, [1, B, 1, 1]);
    const { h, s, v } = hsvPlanes(images);
    return rgbFromPlanes({ h: frac(tf.add(h, shift)) as tf.Tensor4D, s, v });
  });
}
