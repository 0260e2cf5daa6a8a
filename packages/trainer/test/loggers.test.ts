import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 as zlibCrc32, deflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import {
  KnnMonitor,
  TensorBoardLogger,
  crc32c,
  maskedCrc32c,
  pretrain,
  stepScalars,
  tfRecord,
  type LabelledImages,
  type StepRecord,
  type TrainLogger,
} from '@ediy/trainer';
import { BYOL_ROW, smoke, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

const BACKEND = await pipelineTestBackend();

beforeAll(async () => {
  await initBackend({ prefer: BACKEND });
});

const PYTHON = '/usr/bin/python3';
const DECODER = new URL('../../../tools/reference/tfevents_decode.py', import.meta.url).pathname;

interface DecodedEvent {
  wall_time: number;
  step: number;
  file_version?: string;
  scalars?: Record<string, number>;
  images?: Record<
    string,
    {
      height: number;
      width: number;
      colorspace: number;
      png_bytes: number;
      png_sha256: string;
      png_pixels: number;
    }
  >;
  session_log?: { status: number };
}

/** Events of a file, by the independent Python decoder (which checks both CRCs of every record). */
function decode(path: string): DecodedEvent[] {
  return execFileSync(PYTHON, [DECODER, path], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as DecodedEvent);
}

function readLog(runDir: string): StepRecord[] {
  return readFileSync(join(runDir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StepRecord);
}

/** float32 as the event file stores `simple_value`. */
const f32 = (values: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Math.fround(v)]));

/** A w x h RGB PNG (filter 0 rows), built with zlib. */
function png(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'ascii');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlibCrc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = Buffer.alloc(height * (1 + width * 3));
  for (let i = 0; i < raw.length; i++) raw[i] = i % (1 + width * 3) === 0 ? 0 : (i * 37) & 0xff;
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(raw)),
      chunk('IEND', Buffer.alloc(0)),
    ]),
  );
}

/** A logger keeping what it receives. */
function recorder(name = 'recorder') {
  const calls: Array<{ step: number; values: Record<string, number> }> = [];
  let closed = 0;
  const logger: TrainLogger = {
    name,
    scalars: (step, values) => void calls.push({ step, values: { ...values } }),
    close: () => void closed++,
  };
  return { logger, calls, closed: () => closed };
}

describe('CRC32C and the TFRecord framing', () => {
  it('gives the check value of CRC-32C and frames a record with masked CRCs', () => {
    const ascii = (s: string) => new TextEncoder().encode(s);
    // The CRC-32C check value (RFC 3720, B.4): crc32c("123456789").
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // 32 zero bytes, RFC 3720 B.4
    const c = 0xe3069283;
    expect(maskedCrc32c(ascii('123456789'))).toBe(
      ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0,
    );
    const rec = tfRecord(ascii('abc'));
    const view = new DataView(rec.buffer);
    expect(rec.length).toBe(3 + 16);
    expect(view.getBigUint64(0, true)).toBe(3n);
    expect(view.getUint32(8, true)).toBe(maskedCrc32c(rec.subarray(0, 8)));
    expect(new TextDecoder().decode(rec.subarray(12, 15))).toBe('abc');
    expect(view.getUint32(15, true)).toBe(maskedCrc32c(ascii('abc')));
  });
});

describe.skipIf(!existsSync(PYTHON))('TensorBoardLogger, read by an independent decoder', () => {
  it('writes file_version first, then scalars and a PNG image, and a session start on resume', () => {
    const dir = tempDir('tb');
    let t = 1_700_000_000.25;
    const tb = new TensorBoardLogger(dir, { now: () => t++, resumeStep: 5 });
    expect(tb.path).toMatch(/\/events\.out\.tfevents\.1700000000\.[^/]+$/);
    tb.scalars(5, { loss: 1.2345678, 'loss/byol': 0.5, lr: 3e-4 });
    const image = png(3, 2);
    tb.image(6, 'saliency', image);
    tb.close();
    tb.close();
    expect(() => tb.scalars(7, { loss: 1 })).toThrow(/is closed/);
    const events = decode(tb.path);
    expect(events).toEqual([
      { wall_time: 1_700_000_000.25, step: 0, file_version: 'brain.Event:2' },
      { wall_time: 1_700_000_000.25, step: 5, session_log: { status: 1 } },
      {
        wall_time: 1_700_000_001.25,
        step: 5,
        scalars: f32({ loss: 1.2345678, 'loss/byol': 0.5, lr: 3e-4 }),
      },
      {
        wall_time: 1_700_000_002.25,
        step: 6,
        images: {
          saliency: {
            height: 2,
            width: 3,
            colorspace: 3,
            png_bytes: image.length,
            png_sha256: createHash('sha256').update(image).digest('hex'),
            png_pixels: 6,
          },
        },
      },
    ]);
    expect(readdirSync(dir)).toEqual([tb.path.split('/').pop()]);
    t = 1_700_000_000.5; // the same second: another file
    const again = new TensorBoardLogger(dir, { now: () => t });
    again.close();
    expect(again.path).toBe(`${tb.path}.1`);
    expect(decode(again.path)).toEqual([{ wall_time: t, step: 0, file_version: 'brain.Event:2' }]);
  });

  it('the decoder refuses a record whose CRC does not match', () => {
    const tb = new TensorBoardLogger(tempDir('tb-bad'));
    tb.scalars(1, { loss: 2 });
    tb.close();
    const bytes = readFileSync(tb.path);
    bytes[bytes.length - 6] = (bytes[bytes.length - 6] as number) ^ 1; // a byte of the last event
    writeFileSync(tb.path, bytes);
    expect(() => decode(tb.path)).toThrow(/record 1: bad data CRC/);
  });

  it('the decoder checks an image against its PNG: chunk CRCs and the pixel rows', () => {
    const image = png(4, 3);
    const write = (bytes: Uint8Array): string => {
      const tb = new TensorBoardLogger(tempDir('tb-img'));
      tb.image(1, 'grid', bytes);
      tb.close();
      return tb.path;
    };
    expect(decode(write(image))[1]?.images?.grid?.png_pixels).toBe(12);
    // One pixel byte changed inside IDAT: the chunk's CRC no longer matches.
    const flipped = Uint8Array.from(image);
    const idat = Buffer.from(flipped).indexOf('IDAT');
    flipped[idat + 6] = (flipped[idat + 6] as number) ^ 0xff;
    expect(() => decode(write(flipped))).toThrow(/PNG chunk b'IDAT': bad CRC/);
    // A PNG whose header says 4x3 but whose pixel data hold two rows.
    const [w, h] = [4, 3];
    const short = png(w, h - 1);
    short.set([0, 0, 0, h], 16 + 4); // IHDR height: 3
    const view = new DataView(short.buffer);
    view.setUint32(29, zlibCrc32(short.subarray(12, 29)) >>> 0); // IHDR's CRC, fixed
    expect(() => decode(write(short))).toThrow(/PNG pixels: 26 bytes, expected 39/);
  });

  it('refuses what is not a PNG, naming it', () => {
    const tb = new TensorBoardLogger(tempDir('tb-png'));
    expect(() => tb.image(1, 'x', new Uint8Array(30))).toThrow(/png must be PNG bytes/);
    tb.close();
  });
});

describe('KnnMonitor', () => {
  /** n images of 4x4 px whose class c lights channel c; labels cycle over 3 classes. */
  function separable(n: number, offset: number): LabelledImages {
    const images = new Float32Array(n * 4 * 4 * 3);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = (i + offset) % 3;
      labels[i] = c;
      for (let p = 0; p < 16; p++) images[(i * 16 + p) * 3 + c] = 1 + 0.1 * ((i * 7 + p) % 5);
    }
    return { images, shape: [n, 4, 4, 3], labels };
  }
  /** A fixed extractor: the image itself as a 4x4 map, pooled by its mean. */
  const extractor = (x: tf.Tensor4D) => ({
    map: tf.clone(x),
    pooled: tf.mean(x, [1, 2]) as tf.Tensor2D,
  });

  it('scores a separable set 1, a set with shuffled query labels by its agreement, and leaks nothing', () => {
    const memory = separable(12, 0);
    const queries = separable(9, 1);
    const monitor = new KnnMonitor(memory, queries, { k: 5 });
    const before = tf.memory().numTensors;
    const value = monitor.measure(extractor);
    expect(tf.memory().numTensors).toBe(before);
    expect(value.knnTop1).toBe(1);
    expect(value.ms).toBeGreaterThan(0);
    // Query labels moved by one class for 3 of the 9 queries: exactly 6/9 stay right.
    const wrong = { ...queries, labels: Int32Array.from(queries.labels) };
    for (const i of [0, 4, 8]) wrong.labels[i] = ((wrong.labels[i] as number) + 1) % 3;
    expect(new KnnMonitor(memory, wrong, { k: 5 }).measure(extractor).knnTop1).toBeCloseTo(
      6 / 9,
      10,
    );
  });

  it('measures the same asynchronously (what pretrain uses, so webgpu works), leaking nothing', async () => {
    const memory = separable(12, 0);
    const queries = separable(9, 1);
    const wrong = { ...queries, labels: Int32Array.from(queries.labels) };
    for (const i of [0, 4]) wrong.labels[i] = ((wrong.labels[i] as number) + 1) % 3;
    const monitor = new KnnMonitor(memory, wrong, { k: 5 });
    const before = tf.memory().numTensors;
    const value = await monitor.measureAsync(extractor);
    expect(tf.memory().numTensors).toBe(before);
    expect(value.knnTop1).toBeCloseTo(7 / 9, 10);
    expect(value.knnTop1).toBe(monitor.measure(extractor).knnTop1);
  });
});

describe('pretrain with loggers', () => {
  it('gives each logger exactly the logged values of every step and closes it once', async () => {
    const runDir = tempDir('loggers');
    const a = recorder('a');
    const b = recorder('b');
    await pretrain(smoke(BYOL_ROW, 3), { runDir, progress: null, loggers: [a.logger, b.logger] });
    const log = readLog(runDir);
    expect(log.map((r) => r.step)).toEqual([1, 2, 3]);
    const expected = log.map((r) => ({ step: r.step, values: stepScalars(r) }));
    expect(Object.keys(expected[0]!.values)).toEqual([
      'loss',
      'loss/byol',
      'lr',
      'tau',
      'throughput/images_per_sec',
    ]);
    expect(a.calls).toEqual(expected);
    expect(b.calls).toEqual(expected);
    expect([a.closed(), b.closed()]).toEqual([1, 1]);
  });

  it('closes the loggers when the run is stopped by a signal', async () => {
    const runDir = tempDir('loggers-abort');
    const rec = recorder();
    const controller = new AbortController();
    const stop: TrainLogger = {
      name: 'stopper',
      scalars: (step) => {
        if (step === 1) controller.abort();
      },
      close: () => {},
    };
    await expect(
      pretrain(smoke(BYOL_ROW, 3), {
        runDir,
        progress: null,
        loggers: [rec.logger, stop],
        signal: controller.signal,
        handleSigint: false,
      }),
    ).rejects.toThrow(/stopped at step 1\/3/);
    expect(rec.calls.map((c) => c.step)).toEqual([1]);
    expect(rec.closed()).toBe(1);
  });

  it('stops on a logger that throws, naming it, and still closes every logger', async () => {
    const runDir = tempDir('loggers-throw');
    const rec = recorder();
    const broken: TrainLogger = {
      name: 'my-sink',
      scalars: (step) => {
        if (step === 2) throw new Error('disk full');
      },
      close: () => {},
    };
    await expect(
      pretrain(smoke(BYOL_ROW, 3), { runDir, progress: null, loggers: [rec.logger, broken] }),
    ).rejects.toThrow("logger 'my-sink' failed logging the scalars of step 2: disk full");
    expect(rec.closed()).toBe(1);
    await expect(
      pretrain(smoke(BYOL_ROW, 3), {
        runDir: tempDir('loggers-bad'),
        progress: null,
        loggers: [{ name: 'x' } as unknown as TrainLogger],
      }),
    ).rejects.toThrow(/loggers\[0\] must be a TrainLogger/);
  });

  it('the monitor leaves training unchanged (the same losses) and no tensors behind', async () => {
    const config = smoke(BYOL_ROW, 3);
    const run = (monitor?: { every: number; images: number }) =>
      pretrain(config, {
        runDir: tempDir('monitor-same'),
        progress: null,
        ...(monitor ? { monitor } : {}),
      });
    const plain = await run();
    const before = tf.memory().numTensors;
    const monitored = await run({ every: 1, images: 8 });
    expect(tf.memory().numTensors).toBe(before); // the monitor leaks nothing
    expect(monitored.records.map((r) => r.monitor !== undefined)).toEqual([true, true, true]);
    expect(monitored.records.map((r) => [r.loss, r.terms])).toEqual(
      plain.records.map((r) => [r.loss, r.terms]),
    );
    await expect(
      pretrain(config, { runDir: tempDir('monitor-bad'), progress: null, monitor: { every: 0 } }),
    ).rejects.toThrow('monitor.every must be an integer >= 1, got 0');
  });

  it.skipIf(!existsSync(PYTHON))(
    'writes TensorBoard files that decode to log.jsonl, with the kNN monitor at its steps',
    async () => {
      const runDir = tempDir('tb-run');
      const config = smoke(BYOL_ROW, 4);
      await pretrain(config, {
        runDir,
        progress: null,
        tensorboard: true,
        monitor: { every: 3, images: 12, k: 5 },
        stopAfter: 2,
      });
      // Resumed in a second call: a second file, starting with a session start at step 3.
      await pretrain(config, {
        runDir,
        progress: null,
        tensorboard: true,
        monitor: { every: 3, images: 12, k: 5 },
      });
      const log = readLog(runDir);
      expect(log.map((r) => r.step)).toEqual([1, 2, 3, 4]);
      // at step 3 (every 3) and at the schedule's last step, 4
      expect(log.map((r) => r.monitor !== undefined)).toEqual([false, false, true, true]);
      const files = readdirSync(join(runDir, 'tb')).sort();
      expect(files).toHaveLength(2);
      const events = files.flatMap((f) => decode(join(runDir, 'tb', f)));
      expect(events.filter((e) => e.file_version).length).toBe(2);
      expect(events.filter((e) => e.session_log).map((e) => e.step)).toEqual([3]);
      const scalars = events.filter((e) => e.scalars);
      expect(scalars.map((e) => e.step)).toEqual([1, 2, 3, 4]);
      for (const [i, r] of log.entries()) {
        const want = stepScalars(r);
        if (r.monitor) {
          want['monitor/knn_top1'] = r.monitor.knnTop1;
          want['monitor/knn_ms'] = r.monitor.ms;
          // a kNN accuracy over the 12 queries: a multiple of 1/12 in [0, 1]
          expect(
            Math.abs(r.monitor.knnTop1 * 12 - Math.round(r.monitor.knnTop1 * 12)),
          ).toBeLessThan(1e-9);
          expect(r.monitor.knnTop1).toBeGreaterThanOrEqual(0);
          expect(r.monitor.knnTop1).toBeLessThanOrEqual(1);
        }
        expect(scalars[i]!.scalars).toEqual(f32(want));
      }
    },
  );
});
