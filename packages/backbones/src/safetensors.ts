/**
 * A reader and writer of the safetensors format: an 8-byte little-endian header length N,
 * N bytes of JSON header (`{"<name>": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__"?: {string: string}}`, padded with spaces), then the raw little-endian data,
 * offsets counted from the end of the header.
 */
import { bfloat16ToFloat, floatToBfloat16, floatToHalf, halfToFloat } from './half.js';

/** The element types supported. F16 and BF16 are decoded to (and encoded from) float32. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64';

/** Bytes per element of each {@link SafetensorsDtype}. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
};

/**
 * One tensor of a safetensors file. `data` holds the decoded values in row-major order:
 * a Float32Array for F32, F16 and BF16, a Float64Array for F64, a BigInt64Array for I64.
 * `dtype` is the type stored in (or to be written to) the file.
 */
export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array;
}

/** Named tensors in file order (a PyTorch state dict). */
export type StateDict = Map<string, SafeTensor>;

/** Largest header accepted, as the reference implementation (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function isDtype(x: unknown): x is SafetensorsDtype {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_BYTES, x);
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseHeader(
  bytes: Uint8Array,
  source: string,
): {
  entries: HeaderEntry[];
  metadata: Record<string, string>;
  dataStart: number;
} {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `${source}: expected the file contents as a Uint8Array, got ${Object.prototype.toString.call(bytes)}`,
    );
  }
  if (bytes.byteLength < 8) {
    throw new Error(
      `${source}: ${bytes.byteLength} bytes is too short for a safetensors file (expected an 8-byte header length first)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER_BYTES, bytes.byteLength - 8))) {
    throw new Error(
      `${source}: safetensors header length ${n} exceeds the ${bytes.byteLength - 8} bytes after the length field (file truncated or not safetensors)`,
    );
  }
  const headerLength = Number(n);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(
    bytes.subarray(8, 8 + headerLength),
  );
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: safetensors header is not valid JSON (${(err as Error).message})`, {
      cause: err,
    });
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new Error(
      `${source}: safetensors header must be a JSON object, got ${text.slice(0, 80)}`,
    );
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const entries: HeaderEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (
        info === null ||
        typeof info !== 'object' ||
        Array.isArray(info) ||
        Object.values(info).some((v) => typeof v !== 'string')
      ) {
        throw new Error(
          `${source}: safetensors __metadata__ must be an object of strings, got ${JSON.stringify(info)}`,
        );
      }
      metadata = { ...(info as Record<string, string>) };
      continue;
    }
    const e = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (e === null || typeof e !== 'object') {
      throw new Error(
        `${source}: tensor '${name}': expected {dtype, shape, data_offsets}, got ${JSON.stringify(info)}`,
      );
    }
    if (!isDtype(e.dtype)) {
      throw new Error(
        `${source}: tensor '${name}' has dtype ${JSON.stringify(e.dtype)}; supported: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')}`,
      );
    }
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(
        `${source}: tensor '${name}' has shape ${JSON.stringify(e.shape)}; expected an array of non-negative integers`,
      );
    }
    const offsets = e.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      offsets.some((d) => !Number.isInteger(d) || d < 0)
    ) {
      throw new Error(
        `${source}: tensor '${name}' has data_offsets ${JSON.stringify(offsets)}; expected [begin, end]`,
      );
    }
    const [begin, end] = offsets as [number, number];
    const expected = numel(e.shape as number[]) * SAFETENSORS_DTYPE_BYTES[e.dtype];
    if (end - begin !== expected) {
      throw new Error(
        `${source}: tensor '${name}' (${e.dtype} ${JSON.stringify(e.shape)}) spans ${end - begin} bytes [${begin}, ${end}); expected ${expected}`,
      );
    }
    if (end > dataLength) {
      throw new Error(
        `${source}: tensor '${name}' ends at data byte ${end} but the file has only ${dataLength} data bytes (truncated?)`,
      );
    }
    entries.push({ name, dtype: e.dtype, shape: e.shape as number[], begin, end });
  }
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const e of sorted) {
    if (e.begin !== covered) {
      throw new Error(
        `${source}: tensor '${e.name}' starts at data byte ${e.begin}; expected ${covered} (tensors must be contiguous and not overlap)`,
      );
    }
    covered = e.end;
  }
  if (covered !== dataLength) {
    throw new Error(
      `${source}: tensors cover ${covered} data bytes but the file has ${dataLength} (trailing bytes)`,
    );
  }
  return { entries, metadata, dataStart };
}

/**
 * Parses a safetensors file.
 * @param bytes - the whole file.
 * @param source - a name for the bytes (e.g. the file path) used in error messages.
 * @returns the tensors in header order, values decoded (see {@link SafeTensor}).
 * @throws when the header is missing, not JSON, names an unsupported dtype, or its offsets
 *   do not match the shapes or the file length; the error names the tensor and the expectation.
 */
export function readSafetensors(bytes: Uint8Array, source = 'safetensors'): StateDict {
  const { entries, dataStart } = parseHeader(bytes, source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: StateDict = new Map();
  for (const e of entries) {
    const n = numel(e.shape);
    const base = dataStart + e.begin;
    let data: SafeTensor['data'];
    switch (e.dtype) {
      case 'F32': {
        const a = new Float32Array(n);
        for (let i = 0; i < n; i++) a[i] = view.getFloat32(base + 4 * i, true);
        data = a;
        break;
      }
      case 'F64': {
        const a = new Float64Array(n);
        for (let i = 0; i < n; i++) a[i] = view.getFloat64(base + 8 * i, true);
        data = a;
        break;
      }
      case 'F16': {
        const a = new Float32Array(n);
        for (let i = 0; i < n; i++) a[i] = halfToFloat(view.getUint16(base + 2 * i, true));
        data = a;
        break;
      }
      case 'BF16': {
        const a = new Float32Array(n);
        for (let i = 0; i < n; i++) a[i] = bfloat16ToFloat(view.getUint16(base + 2 * i, true));
        data = a;
        break;
      }
      case 'I64': {
        const a = new BigInt64Array(n);
        for (let i = 0; i < n; i++) a[i] = view.getBigInt64(base + 8 * i, true);
        data = a;
        break;
      }
    }
    out.set(e.name, { dtype: e.dtype, shape: e.shape.slice(), data });
  }
  return out;
}

/** The `__metadata__` string map of a safetensors file (empty when absent). */
export function readSafetensorsMetadata(
  bytes: Uint8Array,
  source = 'safetensors',
): Record<string, string> {
  return parseHeader(bytes, source).metadata;
}

/**
 * Serialises tensors to the safetensors format. The header is compact JSON with
 * `__metadata__` first (only when given), then the tensors in iteration order with
 * contiguous data in the same order, padded with spaces to a multiple of 8 bytes.
 * F16/BF16 values are rounded to nearest even.
 * @throws when a tensor's data length does not match its shape, or its data type does not
 *   fit its dtype (I64 needs a BigInt64Array, the float dtypes a Float32Array or Float64Array).
 */
export function writeSafetensors(
  tensors: StateDict | Readonly<Record<string, SafeTensor>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const items = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new TypeError(`safetensors metadata '${k}' must be a string, got ${typeof v}`);
    }
    header['__metadata__'] = { ...metadata };
  }
  let offset = 0;
  for (const [name, t] of items) {
    if (name === '__metadata__') throw new Error(`a tensor cannot be named '__metadata__'`);
    if (!t || !isDtype(t.dtype)) {
      throw new Error(
        `tensor '${name}' has dtype ${JSON.stringify(t?.dtype)}; supported: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')}`,
      );
    }
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(
        `tensor '${name}' has shape ${JSON.stringify(t.shape)}; expected an array of non-negative integers`,
      );
    }
    const n = numel(t.shape);
    if (t.data.length !== n) {
      throw new Error(
        `tensor '${name}' has ${t.data.length} values; shape ${JSON.stringify(t.shape)} needs ${n}`,
      );
    }
    const isBig = t.data instanceof BigInt64Array;
    if (isBig !== (t.dtype === 'I64')) {
      throw new Error(
        `tensor '${name}' is ${t.dtype} but its data is a ${t.data.constructor.name}; expected ${t.dtype === 'I64' ? 'a BigInt64Array' : 'a Float32Array or Float64Array'}`,
      );
    }
    const size = n * SAFETENSORS_DTYPE_BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  let headerBytes = new TextEncoder().encode(json);
  const pad = (8 - (headerBytes.byteLength % 8)) % 8;
  if (pad > 0) {
    json += ' '.repeat(pad);
    headerBytes = new TextEncoder().encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let base = 8 + headerBytes.byteLength;
  for (const [, t] of items) {
    const n = t.data.length;
    switch (t.dtype) {
      case 'F32':
        for (let i = 0; i < n; i++) view.setFloat32(base + 4 * i, t.data[i] as number, true);
        break;
      case 'F64':
        for (let i = 0; i < n; i++) view.setFloat64(base + 8 * i, t.data[i] as number, true);
        break;
      case 'F16':
        for (let i = 0; i < n; i++)
          view.setUint16(base + 2 * i, floatToHalf(t.data[i] as number), true);
        break;
      case 'BF16':
        for (let i = 0; i < n; i++)
          view.setUint16(base + 2 * i, floatToBfloat16(t.data[i] as number), true);
        break;
      case 'I64':
        for (let i = 0; i < n; i++) view.setBigInt64(base + 8 * i, t.data[i] as bigint, true);
        break;
    }
    base += n * SAFETENSORS_DTYPE_BYTES[t.dtype];
  }
  return out;
}
