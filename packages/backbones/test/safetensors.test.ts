import { describe, expect, it } from 'vitest';
import {
  bfloat16ToFloat,
  floatToBfloat16,
  floatToHalf,
  halfToFloat,
  readSafetensors,
  readSafetensorsMetadata,
  writeSafetensors,
} from '@ediy/backbones/interop';
import type { SafeTensor } from '@ediy/backbones/interop';
import { fixtureBytes, fixtureState, get } from './helpers.js';

/** A safetensors file built byte by byte: header JSON then data. */
function build(header: unknown, data: number[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('half and bfloat16', () => {
  it('decode bit patterns by hand', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x0400)).toBe(2 ** -14);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
    expect(bfloat16ToFloat(0x3f80)).toBe(1);
    expect(bfloat16ToFloat(0xc020)).toBe(-2.5);
  });

  it('encode with round-to-nearest-even', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie, to even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, to even (up)
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds past the largest half
    expect(floatToHalf(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal
    expect(floatToHalf(1.5 * 2 ** -25)).toBe(1);
    expect(floatToHalf(NaN) & 0x7e00).toBe(0x7e00);
    expect(floatToBfloat16(1 + 2 ** -8)).toBe(0x3f80);
    expect(floatToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(floatToBfloat16(NaN) & 0x7fc0).toBe(0x7fc0);
  });

  it('agree with torch .half() and .bfloat16() (dtypes fixture)', () => {
    const s = fixtureState('dtypes.safetensors');
    const f32 = get(s, 'f32').data as Float32Array;
    const f16 = get(s, 'f16').data as Float32Array;
    const bf16 = get(s, 'bf16').data as Float32Array;
    expect(Array.from(f16)).toEqual(Array.from(get(s, 'f16_as_f64').data as Float64Array));
    expect(Array.from(bf16)).toEqual(Array.from(get(s, 'bf16_as_f64').data as Float64Array));
    expect(Array.from(f32, (v) => halfToFloat(floatToHalf(v)))).toEqual(Array.from(f16));
    expect(Array.from(f32, (v) => bfloat16ToFloat(floatToBfloat16(v)))).toEqual(Array.from(bf16));
  });
});

describe('readSafetensors', () => {
  it('reads a file built by hand', () => {
    const data = new Uint8Array(4 * 2 + 2 + 8);
    const view = new DataView(data.buffer);
    view.setFloat32(0, 1.5, true);
    view.setFloat32(4, -2, true);
    view.setUint16(8, 0x3c00, true);
    view.setBigInt64(10, -3n, true);
    const bytes = build(
      {
        __metadata__: { format: 'pt' },
        a: { dtype: 'F32', shape: [1, 2], data_offsets: [0, 8] },
        h: { dtype: 'F16', shape: [1], data_offsets: [8, 10] },
        n: { dtype: 'I64', shape: [], data_offsets: [10, 18] },
      },
      Array.from(data),
    );
    const s = readSafetensors(bytes);
    expect([...s.keys()]).toEqual(['a', 'h', 'n']);
    expect(s.get('a')).toEqual({ dtype: 'F32', shape: [1, 2], data: Float32Array.of(1.5, -2) });
    expect(s.get('h')).toEqual({ dtype: 'F16', shape: [1], data: Float32Array.of(1) });
    expect(s.get('n')).toEqual({ dtype: 'I64', shape: [], data: BigInt64Array.of(-3n) });
    expect(readSafetensorsMetadata(bytes)).toEqual({ format: 'pt' });
  });

  it('reads every dtype of the PyTorch-written fixture', () => {
    const s = fixtureState('dtypes.safetensors');
    const f64 = get(s, 'f64');
    expect(f64.dtype).toBe('F64');
    expect(f64.shape).toEqual([2, 11]);
    expect(f64.data[4]).toBe(0.1);
    expect(get(s, 'f32').data[4]).toBe(Math.fround(0.1));
    expect(Array.from(get(s, 'i64').data as BigInt64Array)).toEqual([
      0n,
      1n,
      -1n,
      2n ** 53n + 1n,
      -(2n ** 62n),
    ]);
    expect(get(s, 'scalar')).toEqual({ dtype: 'I64', shape: [], data: BigInt64Array.of(7n) });
  });

  it('rejects broken files, naming the tensor and the expectation', () => {
    const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    expect(() => readSafetensors(new Uint8Array(4), 'x.safetensors')).toThrow(
      /x\.safetensors: 4 bytes is too short/,
    );
    const truncated = build(ok, [0, 0, 0, 0, 0, 0, 0, 0]).subarray(0, 20);
    expect(() => readSafetensors(truncated, 'w.safetensors')).toThrow(
      /w\.safetensors: safetensors header length \d+ exceeds the 12 bytes/,
    );
    expect(() => readSafetensors(build(ok, [0, 0, 0, 0]))).toThrow(
      /tensor 'a' ends at data byte 8 but the file has only 4 data bytes/,
    );
    expect(() =>
      readSafetensors(
        build({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Array(8).fill(0)),
      ),
    ).toThrow(/tensor 'a' \(F32 \[3\]\) spans 8 bytes \[0, 8\); expected 12/);
    expect(() =>
      readSafetensors(
        build({ a: { dtype: 'U8', shape: [8], data_offsets: [0, 8] } }, new Array(8).fill(0)),
      ),
    ).toThrow(/tensor 'a' has dtype "U8"; supported: F64, F32, F16, BF16, I64/);
    expect(() => readSafetensors(build(ok, new Array(12).fill(0)))).toThrow(
      /cover 8 data bytes but the file has 12/,
    );
    expect(() =>
      readSafetensors(
        build(
          {
            a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
            b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
          },
          new Array(8).fill(0),
        ),
      ),
    ).toThrow(/starts at data byte 4; expected 0/);
    const garbage = new Uint8Array(16);
    new DataView(garbage.buffer).setBigUint64(0, 8n, true);
    garbage.set(new TextEncoder().encode('{"a": [1'), 8);
    expect(() => readSafetensors(garbage)).toThrow(/header is not valid JSON/);
    expect(() =>
      readSafetensors(build({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, [])),
    ).toThrow(/shape \[-1\]/);
  });
});

describe('writeSafetensors', () => {
  it('writes the layout by hand: length, compact header padded to 8, data in order', () => {
    const bytes = writeSafetensors(
      new Map<string, SafeTensor>([
        ['w', { dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) }],
        ['h', { dtype: 'F16', shape: [1], data: Float32Array.of(-2) }],
      ]),
    );
    const json =
      '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"h":{"dtype":"F16","shape":[1],"data_offsets":[8,10]}}';
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(Number(view.getBigUint64(0, true))).toBe(padded.length);
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + padded.length))).toBe(padded);
    expect(padded.length % 8).toBe(0);
    const base = 8 + padded.length;
    expect(view.getFloat32(base, true)).toBe(1);
    expect(view.getFloat32(base + 4, true)).toBe(2);
    expect(view.getUint16(base + 8, true)).toBe(0xc000);
    expect(bytes.byteLength).toBe(base + 10);
  });

  it('round-trips every dtype and the metadata, byte for byte with the PyTorch-written file', () => {
    const original = fixtureBytes('dtypes.safetensors');
    const again = writeSafetensors(readSafetensors(original));
    expect(Buffer.from(again).equals(Buffer.from(original))).toBe(true);
    const meta = writeSafetensors(
      { x: { dtype: 'BF16', shape: [1], data: Float32Array.of(3) } },
      { format: 'pt' },
    );
    expect(readSafetensorsMetadata(meta)).toEqual({ format: 'pt' });
    expect(readSafetensors(meta).get('x')?.data).toEqual(Float32Array.of(3));
  });

  it('rejects data that does not fit the shape or dtype', () => {
    expect(() =>
      writeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }),
    ).toThrow(/tensor 'a' has 2 values; shape \[3\] needs 3/);
    expect(() =>
      writeSafetensors({ a: { dtype: 'I64', shape: [1], data: new Float32Array(1) } }),
    ).toThrow(/tensor 'a' is I64 but its data is a Float32Array; expected a BigInt64Array/);
    expect(() =>
      writeSafetensors({ a: { dtype: 'F8' as 'F32', shape: [1], data: new Float32Array(1) } }),
    ).toThrow(/dtype "F8"/);
  });
});
