/**
 * TensorBoard event files: `<dir>/events.out.tfevents.<seconds>.<host>`, read by stock
 * TensorBoard. A file is a sequence of TFRecords (uint64 length, masked CRC32C of the
 * length, the data, masked CRC32C of the data), each holding one `Event` of
 * TensorFlow's `event.proto`: the first names the format (`file_version:
 * "brain.Event:2"`), the others hold a `Summary` of scalars (`simple_value`) or of an
 * image (`Summary.Image` with its PNG bytes).
 *
 * The protobuf encoding and the CRC32C are written here by hand: the four messages
 * need varints, a double, a float and length-delimited fields (about forty lines), where
 * protobufjs would bring a schema compiler for them, and Node's zlib has CRC-32 but
 * not the Castagnoli polynomial TFRecord uses. `tools/reference/tfevents_decode.py`
 * decodes these files independently in tests.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fsCall } from '../run-dir.js';
import type { TrainLogger } from './logger.js';

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    // 0x82f63b78: the Castagnoli polynomial 0x1edc6f41, bit-reversed.
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli) of `bytes`, as an unsigned 32-bit integer: crc32c("123456789") = 0xe3069283. */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC32C_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC-32C: the CRC rotated right by 15 bits plus 0xa282ead8 (mod 2^32). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: uint64 length, masked CRC of the length, `data`, masked CRC of `data` (little-endian). */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** A protobuf message under construction: fields appended in order. */
class Proto {
  private readonly parts: number[] = [];

  private varint(value: bigint | number): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.parts.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.parts.push(Number(v));
  }

  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number): this {
    this.key(field, 0);
    this.varint(value);
    return this;
  }

  double(field: number, value: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    this.key(field, 1);
    this.parts.push(...b);
    return this;
  }

  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.key(field, 5);
    this.parts.push(...b);
    return this;
  }

  bytes(field: number, value: Uint8Array | string): this {
    const b = typeof value === 'string' ? new TextEncoder().encode(value) : value;
    this.key(field, 2);
    this.varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** The dimensions and TensorBoard colour space (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) of a PNG. */
export function pngInfo(png: Uint8Array): { width: number; height: number; colorspace: number } {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.length < 26 || signature.some((b, i) => png[i] !== b))
    throw new Error(`png must be PNG bytes (signature 89 50 4e 47 ...), got ${png.length} bytes`);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const type = png[25] as number;
  const colorspace = { 0: 1, 4: 2, 2: 3, 3: 3, 6: 4 }[type];
  if (colorspace === undefined) throw new Error(`png has an unknown colour type ${type}`);
  return { width: view.getUint32(16), height: view.getUint32(20), colorspace };
}

/** What an {@link encodeEvent} holds besides its time and step. */
export type EventBody =
  | { fileVersion: string }
  | { scalars: Readonly<Record<string, number>> }
  | { image: { tag: string; png: Uint8Array } }
  | { sessionStart: true };

/**
 * An `Event` proto: wall_time (1, double), step (2, int64), then file_version (3),
 * summary (5: Summary.value (1) = tag (1), simple_value (2, float) or image (4:
 * height 1, width 2, colorspace 3, encoded_image_string 4)) or session_log (6: status
 * START = 1).
 */
export function encodeEvent(wallTime: number, step: number, body: EventBody): Uint8Array {
  const event = new Proto().double(1, wallTime).int(2, step);
  if ('fileVersion' in body) return event.bytes(3, body.fileVersion).finish();
  if ('sessionStart' in body) return event.bytes(6, new Proto().int(1, 1).finish()).finish();
  const summary = new Proto();
  if ('scalars' in body) {
    for (const [tag, value] of Object.entries(body.scalars))
      summary.bytes(1, new Proto().bytes(1, tag).float(2, value).finish());
  } else {
    const { width, height, colorspace } = pngInfo(body.image.png);
    const image = new Proto()
      .int(1, height)
      .int(2, width)
      .int(3, colorspace)
      .bytes(4, body.image.png)
      .finish();
    summary.bytes(1, new Proto().bytes(1, body.image.tag).bytes(4, image).finish());
  }
  return event.bytes(5, summary.finish()).finish();
}

/** Options of {@link TensorBoardLogger}. */
export interface TensorBoardOptions {
  /**
   * The first step this writer logs, when a run resumes: a session-start event at it
   * makes TensorBoard drop the older files' events from this step on (the steps a
   * stopped run logged after its last checkpoint, run again now).
   */
  resumeStep?: number;
  /** Seconds since the epoch, for the file name and events (default the clock). */
  now?: () => number;
}

/**
 * A {@link TrainLogger} writing a TensorBoard event file in `dir` (created):
 * `events.out.tfevents.<seconds>.<host>`. Each call appends its record with one write,
 * so a run stopped at any point leaves a readable file.
 */
export class TensorBoardLogger implements TrainLogger {
  /** `tensorboard`. */
  readonly name = 'tensorboard';
  /** The event file. */
  readonly path: string;
  private fd: number | undefined;
  private readonly now: () => number;

  /**
   * @param dir - the folder TensorBoard is pointed at (e.g. `<run>/tb`).
   * @param options - see {@link TensorBoardOptions}.
   */
  constructor(dir: string, options: TensorBoardOptions = {}) {
    if (typeof dir !== 'string' || dir === '')
      throw new TypeError(`dir must be a folder path, got ${String(dir)}`);
    this.now = options.now ?? (() => Date.now() / 1000);
    const t = this.now();
    fsCall('create', dir, () => mkdirSync(dir, { recursive: true }));
    // Two writers started in the same second get two files (`.1`, `.2` appended).
    const base = join(dir, `events.out.tfevents.${Math.floor(t)}.${hostname()}`);
    let path = base;
    for (let n = 1; existsSync(path); n++) path = `${base}.${n}`;
    this.path = path;
    this.fd = fsCall('open', path, () => openSync(path, 'wx'));
    this.append(encodeEvent(t, 0, { fileVersion: 'brain.Event:2' }));
    const resume = options.resumeStep;
    if (resume !== undefined) {
      if (!Number.isInteger(resume) || resume < 0)
        throw new RangeError(`resumeStep must be an integer >= 0, got ${resume}`);
      this.append(encodeEvent(t, resume, { sessionStart: true }));
    }
  }

  private append(event: Uint8Array): void {
    const fd = this.fd;
    if (fd === undefined) throw new Error(`${this.path} is closed`);
    fsCall('append to', this.path, () => writeSync(fd, tfRecord(event)));
  }

  /** Appends one event holding `values` as `simple_value` scalars. */
  scalars(step: number, values: Readonly<Record<string, number>>): void {
    this.append(encodeEvent(this.now(), step, { scalars: values }));
  }

  /** Appends one event holding a PNG as a `Summary.Image`. */
  image(step: number, tag: string, png: Uint8Array): void {
    this.append(encodeEvent(this.now(), step, { image: { tag, png } }));
  }

  /** Flushes and closes the file. */
  close(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    fsCall('close', this.path, () => {
      fsyncSync(fd);
      closeSync(fd);
    });
  }
}
