/**
 * Small data files written by the tests (and the benchmark) into temporary folders.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary folder and a function that removes it. */
export function tempDir(prefix = 'ediy-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The bytes of an IDX ubyte file of `shape` holding `data`. */
export function encodeIdx(shape: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  const view = new DataView(header.buffer);
  view.setUint32(0, 0x00000800 | shape.length, false);
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/** A deterministic byte pattern: value of item `i`, offset `p`. */
export function pattern(i: number, p: number): number {
  return (i * 31 + p * 7) % 256;
}

/** `n` MNIST-like images (h x w) and labels `i mod classes`, as IDX bytes. */
export function idxPair(
  n: number,
  h: number,
  w: number,
  classes = 10,
): { images: Uint8Array; labels: Uint8Array } {
  const pixels = new Uint8Array(n * h * w);
  for (let i = 0; i < n; i++) for (let p = 0; p < h * w; p++) pixels[i * h * w + p] = pattern(i, p);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % classes);
  return { images: encodeIdx([n, h, w], pixels), labels: encodeIdx([n], labels) };
}

/**
 * `n` CIFAR records: label byte(s) then CHW bytes where channel `c`, pixel `p` of record
 * `i` is `pattern(i, c * 1024 + p)`.
 */
export function cifarRecords(
  n: number,
  variant: 10 | 100,
  label: (i: number) => number[],
): Uint8Array {
  const lb = variant === 10 ? 1 : 2;
  const rec = lb + 3072;
  const out = new Uint8Array(n * rec);
  for (let i = 0; i < n; i++) {
    out.set(label(i), i * rec);
    for (let q = 0; q < 3072; q++) out[i * rec + lb + q] = pattern(i, q);
  }
  return out;
}
