/**
 * Pieces shared by the scene builders ({@link syntheticScenes}, {@link pasteScenes}):
 * textured backgrounds and object boxes read back from an instance map.
 */
import type { Rng } from '@ediy/core';
import type { ObjectBox } from './types.js';

/** Background textures a scene can have. */
export const BACKGROUNDS = ['noise', 'stripes', 'gradient'] as const;

/** A muted random colour: a grey level mixed with a little of a random hue. */
function mutedColour(rng: Rng): [number, number, number] {
  const grey = rng.uniform(0.15, 0.85);
  const mix = rng.uniform(0, 0.35);
  return [0, 1, 2].map(() => Math.min(1, Math.max(0, grey * (1 - mix) + rng.next() * mix))) as [
    number,
    number,
    number,
  ];
}

/**
 * Paints a random background (`noise`, `stripes` or `gradient`, muted colours) into
 * `out[offset .. offset + h*w*c)`, NHWC. With `c === 1` the first colour channel is used.
 */
export function paintBackground(
  rng: Rng,
  out: Float32Array,
  offset: number,
  h: number,
  w: number,
  c: number,
): void {
  const kind = BACKGROUNDS[rng.int(BACKGROUNDS.length)] as (typeof BACKGROUNDS)[number];
  const a = mutedColour(rng);
  const b = mutedColour(rng);
  const angle = rng.uniform(0, Math.PI);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  if (kind === 'noise') {
    const amp = rng.uniform(0.05, 0.2);
    for (let p = 0; p < h * w; p++) {
      const n = (rng.next() - 0.5) * 2 * amp;
      for (let k = 0; k < c; k++)
        out[offset + p * c + k] = Math.min(1, Math.max(0, (a[k] as number) + n));
    }
    return;
  }
  if (kind === 'stripes') {
    const period = rng.uniform(3, Math.max(4, w / 4));
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const t = x * cos + y * sin;
        const col = (((t / period) % 2) + 2) % 2 < 1 ? a : b;
        const p = offset + (y * w + x) * c;
        for (let k = 0; k < c; k++) out[p + k] = col[k] as number;
      }
    }
    return;
  }
  const span = Math.abs(cos) * w + Math.abs(sin) * h;
  const base = Math.min(0, cos * w) + Math.min(0, sin * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const t = (x * cos + y * sin - base) / span;
      const p = offset + (y * w + x) * c;
      for (let k = 0; k < c; k++)
        out[p + k] = (a[k] as number) + ((b[k] as number) - (a[k] as number)) * t;
    }
  }
}

/**
 * The visible objects of a scene, read from its instance map (`-1` = background, `i` =
 * instance `i`), with tight boxes around their visible pixels. Instances with no visible
 * pixel are left out. The image label is the class of the object with the most visible
 * pixels (the earliest drawn on a tie).
 */
export function boxesFromInstances(
  instances: Int16Array,
  classOf: readonly number[],
  h: number,
  w: number,
): { boxes: ObjectBox[]; label: number } {
  const n = classOf.length;
  const x0 = new Int32Array(n).fill(w);
  const y0 = new Int32Array(n).fill(h);
  const x1 = new Int32Array(n);
  const y1 = new Int32Array(n);
  const area = new Int32Array(n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = instances[y * w + x] as number;
      if (i < 0) continue;
      area[i] = (area[i] as number) + 1;
      if (x < (x0[i] as number)) x0[i] = x;
      if (y < (y0[i] as number)) y0[i] = y;
      if (x + 1 > (x1[i] as number)) x1[i] = x + 1;
      if (y + 1 > (y1[i] as number)) y1[i] = y + 1;
    }
  }
  const boxes: ObjectBox[] = [];
  let label = -1;
  let best = 0;
  for (let i = 0; i < n; i++) {
    const a = area[i] as number;
    if (a === 0) continue;
    const classId = classOf[i] as number;
    boxes.push({
      classId,
      x0: x0[i] as number,
      y0: y0[i] as number,
      x1: x1[i] as number,
      y1: y1[i] as number,
      area: a,
    });
    if (a > best) {
      best = a;
      label = classId;
    }
  }
  return { boxes, label };
}
