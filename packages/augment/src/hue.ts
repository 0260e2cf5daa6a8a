/**
 * Hue rotation in HSV space, as torchvision's `adjust_hue` (its `_rgb2hsv` and
 * `_hsv2rgb`), on [B,H,W,3] batches in [0, 1].
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertImageBatch, perImage } from './check.js';

/** x mod 1, in [0, 1). */
function frac(x: tf.Tensor): tf.Tensor {
  return tf.sub(x, tf.floor(x));
}

/**
 * RGB to HSV, all in [0, 1]: `v = max`, `s = (max - min) / max` (0 where max = min),
 * `h` in turns with red at 0, green at 1/3, blue at 2/3 (0 for grays).
 * @returns a new [B,H,W,3] tensor of (h, s, v) the caller owns.
 */
export function rgbToHsv(images: tf.Tensor4D): tf.Tensor4D {
  assertImageBatch(images);
  return tf.tidy(() => {
    const [r, g, b] = tf.split(images, 3, 3) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const maxc = tf.maximum(tf.maximum(r, g), b);
    const minc = tf.minimum(tf.minimum(r, g), b);
    const eqc = tf.equal(maxc, minc);
    const cr = tf.sub(maxc, minc);
    const ones = tf.onesLike(maxc);
    const s = tf.div(cr, tf.where(eqc, ones, maxc));
    const crDivisor = tf.where(eqc, ones, cr);
    const rc = tf.div(tf.sub(maxc, r), crDivisor);
    const gc = tf.div(tf.sub(maxc, g), crDivisor);
    const bc = tf.div(tf.sub(maxc, b), crDivisor);
    const isR = tf.equal(maxc, r);
    const isG = tf.logicalAnd(tf.equal(maxc, g), tf.logicalNot(isR));
    const h6 = tf.where(
      isR,
      tf.sub(bc, gc),
      tf.where(isG, tf.add(tf.sub(rc, bc), 2), tf.add(tf.sub(gc, rc), 4)),
    );
    const h = frac(tf.add(tf.div(h6, 6), 1));
    return tf.concat([h, s, maxc], 3) as tf.Tensor4D;
  });
}

/**
 * HSV to RGB, the inverse of {@link rgbToHsv}.
 * @returns a new [B,H,W,3] tensor of (r, g, b) the caller owns.
 */
export function hsvToRgb(hsv: tf.Tensor4D): tf.Tensor4D {
  assertImageBatch(hsv, 'hsv');
  return tf.tidy(() => {
    const [h, s, v] = tf.split(hsv, 3, 3) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const h6 = tf.mul(h, 6);
    const i0 = tf.floor(h6);
    const f = tf.sub(h6, i0);
    const i = tf.mod(i0, 6);
    const p = tf.clipByValue(tf.mul(v, tf.sub(1, s)), 0, 1);
    const q = tf.clipByValue(tf.mul(v, tf.sub(1, tf.mul(s, f))), 0, 1);
    const t = tf.clipByValue(tf.mul(v, tf.sub(1, tf.mul(s, tf.sub(1, f)))), 0, 1);
    const sector = [0, 1, 2, 3, 4].map((k) => tf.equal(i, k));
    const pick = (vals: readonly tf.Tensor[]): tf.Tensor => {
      let out = vals[5] as tf.Tensor;
      for (let k = 4; k >= 0; k--) out = tf.where(sector[k] as tf.Tensor, vals[k] as tf.Tensor, out);
      return out;
    };
    const r = pick([v, q, p, p, t, v]);
    const g = pick([t, v, v, q, p, p]);
    const b = pick([p, p, t, v, v, q]);
    return tf.concat([r, g, b], 3) as tf.Tensor4D;
  });
}

/**
 * Hue rotation: converts to HSV, adds `shift` (in turns, one per image, e.g. in
 * [-0.5, 0.5]) to the hue modulo 1, and converts back (torchvision `adjust_hue`).
 */
export function adjustHue(images: tf.Tensor4D, shifts: ArrayLike<number>): tf.Tensor4D {
  const { B } = assertImageBatch(images);
  return tf.tidy(() => {
    const shift = perImage(shifts, B, 'hue shifts');
    const [h, s, v] = tf.split(rgbToHsv(images), 3, 3) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    return hsvToRgb(tf.concat([frac(tf.add(h, shift)), s, v], 3) as tf.Tensor4D);
  });
}
