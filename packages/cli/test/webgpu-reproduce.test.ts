/**
 * `ediy reproduce --backend webgpu` end to end on the software adapter (Debian's chromium
 * installs it; CI does): a one-row table (BYOL, one step) on a small image folder, trained,
 * evaluated (kNN, linear probe, region diversity, the untrained floor under both BatchNorm
 * conventions) and drawn (the Grad-CAM saliency grid), with the numbers of the same table
 * run on the cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { main, readStepLog, type ReproduceResults } from '@ediy/cli';
import { Rng } from '@ediy/core';
import { findTestAdapter } from '../../backend/test/webgpu-helpers.js';
import { captureIO, tempDir } from './helpers.js';

const { skip } = await findTestAdapter();

/** Three classes of 8 PNGs of 16 px: a class is a colour, with seeded noise. */
function folder(): string {
  const dir = tempDir('ediy-webgpu-folder-');
  const rng = new Rng(5);
  ['red', 'green', 'blue'].forEach((cls, c) => {
    mkdirSync(join(dir, cls));
    for (let i = 0; i < 8; i++) {
      const png = new PNG({ width: 16, height: 16 });
      for (let p = 0; p < png.data.length; p += 4) {
        for (let k = 0; k < 3; k++) png.data[p + k] = (k === c ? 160 : 40) + rng.int(90);
        png.data[p + 3] = 255;
      }
      writeFileSync(join(dir, cls, `${i}.png`), PNG.sync.write(png));
    }
  });
  return dir;
}

interface Run {
  results: ReproduceResults;
  losses: number[];
  /** Held-out images scored. */
  test: number;
  seconds: number;
}

async function reproduceOn(backend: string, table: string, data: string): Promise<Run> {
  const out = tempDir(`ediy-webgpu-reproduce-${backend}-`);
  const io = captureIO();
  const t0 = performance.now();
  const code = await main(
    [
      'reproduce',
      table,
      '--preset',
      'smoke',
      '--backend',
      backend,
      '--data',
      data,
      '--max-steps',
      '1',
      '--no-tensorboard',
      '--out',
      out,
    ],
    io,
  );
  const seconds = (performance.now() - t0) / 1000;
  expect(code, io.err()).toBe(0);
  expect(io.err()).toContain(`backend ${backend}`);
  expect(existsSync(join(out, 'plots', 'saliency-grid.png'))).toBe(true);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ReproduceResults;
  const runDir = join(out, 'runs', 'byol', 'seed-0');
  const losses = readStepLog(join(runDir, 'log.jsonl')).map((s) => s.loss);
  const { test } = JSON.parse(readFileSync(join(runDir, 'eval.json'), 'utf8')) as { test: number };
  return { results, losses, test, seconds };
}

describe.skipIf(skip !== undefined)(
  'ediy reproduce --backend webgpu (software adapter in CI)',
  () => {
    afterAll(async () => {
      await tf.setBackend('cpu');
    });

    it('completes a one-row table and gives the cpu run numbers', async () => {
      const table = join(tempDir('ediy-webgpu-table-'), 'gpu-smoke.yaml');
      writeFileSync(table, 'name: gpu-smoke\nrows:\n  byol: table1/byol\n');
      const data = folder();
      const gpu = await reproduceOn('webgpu', table, data);
      const cpu = await reproduceOn('cpu', table, data);
      console.log(
        `reproduce, one BYOL step and its evaluation: webgpu (software adapter) ${gpu.seconds.toFixed(1)} s, cpu ${cpu.seconds.toFixed(1)} s`,
      );
      expect(gpu.results.rows.map((r) => r.id)).toEqual(['byol', 'untrained']);
      expect(cpu.results.rows.map((r) => r.id)).toEqual(['byol', 'untrained']);
      expect(gpu.losses).toHaveLength(1);
      expect(Math.abs((gpu.losses[0] as number) - (cpu.losses[0] as number))).toBeLessThan(
        1e-4 * Math.abs(cpu.losses[0] as number),
      );
      const test = cpu.test;
      expect(test).toBeGreaterThan(0);
      expect(gpu.test).toBe(test);
      for (const [i, row] of cpu.results.rows.entries()) {
        const other = gpu.results.rows[i]!;
        for (const key of ['knnTop1', 'linearTop1'] as const) {
          const want = row.summary[key].mean;
          expect(want, `${row.id} ${key}`).toBeGreaterThanOrEqual(0);
          // at most one scored image may flip on float rounding
          expect(Math.abs(other.summary[key].mean - want), `${row.id} ${key}`).toBeLessThanOrEqual(
            1 / test + 1e-9,
          );
        }
        for (const key of ['meanRegionCosine', 'effectiveRank'] as const) {
          const want = row.summary[key].mean;
          expect(Number.isFinite(want), `${row.id} ${key}`).toBe(true);
          expect(
            Math.abs(other.summary[key].mean - want),
            `${row.id} ${key}: webgpu ${other.summary[key].mean}, cpu ${want}`,
          ).toBeLessThan(1e-3 * Math.max(1, Math.abs(want)));
        }
      }
    }, 1_800_000);
  },
);
