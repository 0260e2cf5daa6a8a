import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  main,
  planReproduce,
  portableResults,
  rowsFromRuns,
  secondsText,
  type ReproduceResults,
} from '@ediy/cli';
import { captureIO, tempDir } from './helpers.js';

/** A finished run directory as ediy pretrain + ediy eval leave it, without training. */
function fakeRun(
  dir: string,
  name: string,
  seed: number,
  knn: number,
  knnInterval?: [number, number],
): string {
  const plan = planReproduce({ table: 'table1', preset: 'smoke', out: join(dir, 'plan') });
  const config = { ...(plan.jobs[0]?.config as object), name, seed, paper: undefined };
  const runDir = join(dir, 'runs', name, `seed-${seed}`);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(
    join(runDir, 'eval.json'),
    JSON.stringify({
      metrics: {
        knnTop1: knn,
        linearTop1: knn / 2,
        denseMIoU: null,
        meanRegionCosine: 1 - knn,
        effectiveRank: 2 + knn,
      },
      ...(knnInterval
        ? { intervals: { knnTop1: { estimate: knn, low: knnInterval[0], high: knnInterval[1] } } }
        : {}),
      steps: 3,
      finalLoss: 1,
      checkpoint: 'ckpt-3',
      trainSeconds: 2,
      evalSeconds: 1,
    }),
  );
  const log = [1, 2, 3].map((step) =>
    JSON.stringify({
      step,
      epoch: 0,
      loss: 4 / step + seed,
      terms: { byol: 3 / step, rdem: 1 / step },
      lr: 0.1,
      tau: 0.99,
      imagesPerSec: 10,
      elapsedSec: step,
    }),
  );
  writeFileSync(join(runDir, 'log.jsonl'), `${log.join('\n')}\n`);
  return runDir;
}

describe('ediy report', () => {
  it('builds results.json, results.md and plots from runs made one by one', async () => {
    const dir = tempDir();
    const runs = [
      fakeRun(dir, 'byol', 0, 0.4),
      fakeRun(dir, 'my-loss', 0, 0.6),
      fakeRun(dir, 'byol', 1, 0.5),
      fakeRun(dir, 'my-loss', 1, 0.8),
      fakeRun(dir, 'one-seed', 0, 0.3, [0.25, 0.36]),
    ];
    // The untrained floor, as ediy eval --untrained leaves it beside a run.
    writeFileSync(
      join(runs[0] as string, 'eval-untrained.json'),
      JSON.stringify({
        floor: 'estimated',
        metrics: {
          knnTop1: 0.2,
          linearTop1: 0.1,
          denseMIoU: null,
          meanRegionCosine: 0.9,
          effectiveRank: 1.5,
        },
        intervals: { knnTop1: { low: 0.15, high: 0.26 } },
      }),
    );
    const out = join(dir, 'my-table');
    const io = captureIO();
    expect(await main(['report', ...runs, '--out', out, '--title', 'my table'], io), io.err()).toBe(
      0,
    );
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ReproduceResults;
    expect(results.rows.map((r) => r.id)).toEqual(['byol', 'my-loss', 'one-seed', 'untrained']);
    expect(results.rows[0]?.runs.map((r) => [r.seed, r.runDir])).toEqual([
      [0, '../runs/byol/seed-0'],
      [1, '../runs/byol/seed-1'],
    ]);
    expect(results.rows[1]?.summary.knnTop1.mean).toBeCloseTo(0.7, 12);
    expect(results.rows[2]?.summary.knnTop1.std).toBeNull();
    // Two seeds: Student's t, t(0.975, 1) = 12.7062; s = 0.1 / sqrt(2); half = t * s / sqrt(2).
    const half = (12.7062047 * (0.1 / Math.SQRT2)) / Math.SQRT2;
    const ci = results.rows[0]?.summary.knnTop1.ci95 ?? [];
    expect(ci[0]).toBeCloseTo(0.45 - half, 5);
    expect(ci[1]).toBeCloseTo(0.45 + half, 5);
    // One seed: the run's own bootstrap interval from its eval.json.
    expect(results.rows[2]?.summary.knnTop1.ci95).toEqual([0.25, 0.36]);
    expect(results.rows[2]?.summary.linearTop1.ci95).toBeUndefined();
    expect(results.preset).toBe('smoke');
    expect(results.seeds).toEqual([0, 1]);
    expect(results.seconds).toBe(15);
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    expect(md).toContain('# my table: 4 rows at preset `smoke`');
    // The runs' recorded seconds (3 s each of five fake runs) summed, not a wall time.
    expect(results.secondsKind).toBe('recorded');
    expect(md).toContain(
      "rows; 15 s of training and evaluation, the runs' recorded seconds summed (not a wall time).",
    );
    expect(md).toMatch(/\| my-loss \| \*\*0\.700 ± 0\.141 \[-0\.57\d, 1\.97\d\]\*\* \|/);
    expect(md).toContain('| one-seed | 0.300 [0.250, 0.360] |');
    expect(md).toContain('| *untrained* | 0.200 [0.150, 0.260] |');
    for (const name of ['metrics', 'loss-curves']) {
      expect(md).toContain(`(plots/${name}.png)`);
      const png = PNG.sync.read(readFileSync(join(out, 'plots', `${name}.png`)));
      expect(png.width * png.height).toBeGreaterThan(10_000);
      expect(io.out()).toContain(join(out, 'plots', `${name}.png`));
    }
    // Three trained rows x four metrics with values (dense mIoU is n/a): twelve dots.
    const svg = readFileSync(join(out, 'plots', 'metrics.svg'), 'utf8');
    const dots = svg.match(/<g class="mark-symbol role-mark[^"]*"[^>]*>(.*?)<\/g>/g) ?? [];
    expect(dots.join('').match(/<path /g)).toHaveLength(12);
    // The untrained row is the dashed reference line, once per metric with a value.
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(4);
  });

  it("says whether the seconds are a wall time or the runs' recorded seconds", () => {
    expect(secondsText({ seconds: 3241.6, secondsKind: 'wall' })).toBe('3242 s wall');
    expect(secondsText({ seconds: 5592, secondsKind: 'recorded' })).toMatch(
      /^5592 s of training and evaluation, the runs' recorded seconds summed \(not a wall time\)$/,
    );
    expect(secondsText({ seconds: 12 })).toBe('12 s'); // a file written before the field
  });

  it('names a folder that is not an evaluated run, and a run given twice', async () => {
    const dir = tempDir();
    const run = fakeRun(dir, 'byol', 0, 0.4);
    const bare = join(dir, 'bare');
    mkdirSync(bare);
    writeFileSync(join(bare, 'config.json'), '{}');
    const io = captureIO();
    expect(await main(['report', bare], io)).toBe(2);
    expect(io.err()).toContain(
      'has no eval.json; expected a run directory trained by ediy pretrain',
    );
    expect(() => rowsFromRuns([run, run])).toThrow(/are both byol seed 0; give each run once/);
    expect(existsSync(join(dir, 'report'))).toBe(false);
  });

  it('makes results paths relative to the output folder', () => {
    const r = portableResults(
      {
        table: 't',
        preset: 'mini',
        seeds: [0],
        backend: 'wasm',
        data: 'scenes',
        teacher: '/a/out/teacher',
        rows: [
          {
            id: 'x',
            name: 'x',
            label: 'x',
            runs: [{ seed: 0, runDir: '/a/runs/x', steps: 1, finalLoss: 1, metrics: {} as never }],
            summary: {} as never,
          },
        ],
        seconds: 1,
        createdAt: '',
      },
      '/a/out',
    );
    expect(r.teacher).toBe('teacher');
    expect(r.rows[0]?.runs[0]?.runDir).toBe('../runs/x');
  });
});
