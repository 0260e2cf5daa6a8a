import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { TABLE1 } from '@ediy/paper';
import { initBackend } from '@ediy/backend';
import { pretrain, resolveExperiment } from '@ediy/trainer';
import { main, readStepLog, type ReproduceResults } from '@ediy/cli';
import { PYTHON, captureIO, decodeEvents, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

/** The native engine when built here (as in CI), else plain wasm. */
const BACKEND = await pipelineTestBackend();

describe('ediy reproduce table1 --preset smoke', () => {
  const out = tempDir('ediy-reproduce-');
  const rowIds = Object.keys(TABLE1);

  it('trains the teacher and every row, evaluates them and writes every output file', async () => {
    const io = captureIO();
    const t0 = performance.now();
    const code = await main(
      ['reproduce', 'table1', '--preset', 'smoke', '--backend', BACKEND, '--out', out],
      io,
    );
    const seconds = (performance.now() - t0) / 1000;
    console.log(`reproduce table1 --preset smoke: ${seconds.toFixed(1)} s`);
    expect(code, io.err()).toBe(0);
    expect(io.err()).toMatch(new RegExp(`backend ${BACKEND}`));
    expect(io.err()).toMatch(/\[9\/9\] table1\/byol-rins-tg-riem seed 0 step \d+\/\d+ .*ETA/);
    expect(io.err()).toMatch(/ediy: 8\/9 runs done; about \d+s left for 1 more/);
    // the teacher's lines are labelled like the rows'; evaluating it as a row resumes nothing
    expect(io.err()).toMatch(/\[teacher\] table1\/byol seed 0 step 1\/\d+ loss/);
    expect(io.err()).toMatch(/\[1\/9\] table1\/byol seed 0: the teacher run, evaluating it/);
    expect(io.err()).not.toMatch(/resuming|\[1\/9\] table1\/byol seed 0: memory estimate/);

    expect(existsSync(join(out, 'teacher', 'done.json'))).toBe(true);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ReproduceResults;
    expect(results.table).toBe('table1');
    expect(results.preset).toBe('smoke');
    expect(results.rows.map((r) => r.id)).toEqual([...rowIds, 'untrained']);
    // Table 1's BYOL row at the first seed is the teacher run, trained once.
    // Paths in results.json are relative to it, so the folder can move.
    expect(results.rows[0]?.runs[0]?.runDir).toBe('teacher');
    expect(results.teacher).toBe('teacher');
    for (const row of results.rows) {
      expect(row.runs).toHaveLength(1);
      if (row.id === 'untrained') expect(row.runs[0]?.steps).toBe(0);
      else expect(row.runs[0]?.steps).toBeGreaterThan(0);
      expect(existsSync(join(out, row.runs[0]?.runDir as string, 'eval.json'))).toBe(true);
      expect(row.summary.knnTop1.std).toBeNull(); // one seed
      for (const key of ['knnTop1', 'linearTop1', 'denseMIoU'] as const) {
        expect(row.summary[key].mean).toBeGreaterThanOrEqual(0);
        expect(row.summary[key].mean).toBeLessThanOrEqual(1);
      }
      expect(row.summary.effectiveRank.mean).toBeGreaterThanOrEqual(1);
      // One seed: kNN top-1's interval is the bootstrap over the scored images.
      const ci = row.summary.knnTop1.ci95 as [number, number];
      expect(ci[0]).toBeLessThanOrEqual(row.summary.knnTop1.mean);
      expect(ci[1]).toBeGreaterThanOrEqual(row.summary.knnTop1.mean);
    }
    // TensorBoard files of every trained run: training scalars each step, then the evaluation.
    if (existsSync('/usr/bin/python3')) {
      const decoder = new URL('../../../tools/reference/tfevents_decode.py', import.meta.url)
        .pathname;
      for (const row of results.rows.filter((r) => r.id !== 'untrained')) {
        const runDir = join(out, row.runs[0]?.runDir as string);
        const events = readdirSync(join(runDir, 'tb'))
          .sort()
          .flatMap((f) =>
            execFileSync('/usr/bin/python3', [decoder, join(runDir, 'tb', f)], { encoding: 'utf8' })
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l) as { step: number; scalars?: Record<string, number> }),
          );
        const steps = readStepLog(join(runDir, 'log.jsonl'));
        const losses = events.filter((e) => e.scalars?.loss !== undefined);
        expect(losses.map((e) => e.step)).toEqual(steps.map((s) => s.step));
        expect(losses.map((e) => e.scalars?.loss)).toEqual(steps.map((s) => Math.fround(s.loss)));
        const evaluation = events.find((e) => e.scalars?.['eval/knnTop1'] !== undefined);
        const saved = JSON.parse(readFileSync(join(runDir, 'eval.json'), 'utf8')) as {
          metrics: { knnTop1: number };
        };
        expect(evaluation?.step).toBe(row.runs[0]?.steps);
        expect(evaluation?.scalars?.['eval/knnTop1']).toBe(Math.fround(saved.metrics.knnTop1));
      }
    }
    // The untrained floor, evaluated like the rows, under both BatchNorm conventions.
    const floor = JSON.parse(
      readFileSync(join(out, 'untrained', 'seed-0', 'eval.json'), 'utf8'),
    ) as { floor: string; conventions: Record<string, unknown> };
    expect(['initial', 'estimated']).toContain(floor.floor);
    expect(Object.keys(floor.conventions)).toEqual(['initial', 'estimated']);
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    for (const row of Object.values(TABLE1))
      expect(md).toContain(`| ${row.paper?.label} | ${row.paper?.numbers.APbb?.toFixed(1)} |`);
    expect(md).toMatch(/not the paper's APs/);

    const pngs = ['metrics.png', 'loss-curves.png', 'saliency-grid.png'];
    for (const svg of ['metrics.svg', 'loss-curves.svg'])
      expect(readFileSync(join(out, 'plots', svg), 'utf8')).toMatch(/^<svg/);
    for (const name of pngs) {
      const path = join(out, 'plots', name);
      expect(io.out()).toContain(path);
      const png = PNG.sync.read(readFileSync(path));
      expect(png.width * png.height).toBeGreaterThan(1000);
      expect(md).toContain(`(plots/${name})`);
    }
    // The saliency grid is also an image of the reproduction's own TensorBoard files.
    if (existsSync(PYTHON)) {
      const grid = PNG.sync.read(readFileSync(join(out, 'plots', 'saliency-grid.png')));
      const images = decodeEvents(join(out, 'tb')).flatMap((e) => Object.values(e.images ?? {}));
      expect(images).toEqual([
        expect.objectContaining({
          width: grid.width,
          height: grid.height,
          png_pixels: grid.width * grid.height,
        }),
      ]);
    }
  });

  it('skips finished rows when run again', async () => {
    const evalFile = join(out, 'runs', 'ediy', 'seed-0', 'eval.json');
    const mtime = statSync(evalFile).mtimeMs;
    const floorFile = join(out, 'untrained', 'seed-0', 'eval.json');
    const floorMtime = statSync(floorFile).mtimeMs;
    const io = captureIO();
    const code = await main(
      [
        'reproduce',
        'table1',
        '--preset',
        'smoke',
        '--backend',
        BACKEND,
        '--out',
        out,
        '--rows',
        'byol,ediy',
      ],
      io,
    );
    expect(code, io.err()).toBe(0);
    expect(io.err()).toMatch(/teacher done/);
    expect(io.err()).toMatch(/table1\/ediy seed 0: done, skipping/);
    expect(io.err()).not.toMatch(/step \d+\/\d+/);
    expect(statSync(evalFile).mtimeMs).toBe(mtime);
    expect(statSync(floorFile).mtimeMs).toBe(floorMtime);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ReproduceResults;
    expect(results.rows.map((r) => r.id)).toEqual(['byol', 'ediy', 'untrained']);
  });

  it('refuses to reuse runs made with other settings', async () => {
    const io = captureIO();
    const code = await main(
      [
        'reproduce',
        'table1',
        '--preset',
        'smoke',
        '--max-steps',
        '2',
        '--backend',
        BACKEND,
        '--out',
        out,
        '--rows',
        'byol,ediy',
      ],
      io,
    );
    expect(code).toBe(1);
    expect(io.err()).toContain(
      `${join(out, 'teacher')} holds a run of another config (config.json differs)`,
    );
  });

  it('resumes an interrupted row from its checkpoint', async () => {
    await initBackend({ prefer: BACKEND });
    const fresh = tempDir('ediy-resume-');
    const runDir = join(fresh, 'runs', 'byol', 'seed-1');
    const first = await pretrain(resolveExperiment(TABLE1.byol, { preset: 'smoke', seed: 1 }), {
      runDir,
      stopAfter: 2,
      progress: null,
    });
    expect(first.finished).toBe(false);
    const io = captureIO();
    const tensors = tf.memory().numTensors;
    const code = await main(
      [
        'reproduce',
        'table1',
        '--preset',
        'smoke',
        '--seed',
        '1',
        '--rows',
        'byol',
        '--backend',
        BACKEND,
        '--out',
        fresh,
      ],
      io,
    );
    expect(code, io.err()).toBe(0);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(io.err()).toMatch(/resuming at step 2\/3/);
    expect(readStepLog(join(runDir, 'log.jsonl')).map((r) => r.step)).toEqual([1, 2, 3]);
    expect(existsSync(join(runDir, 'eval.json'))).toBe(true);
  });
});
