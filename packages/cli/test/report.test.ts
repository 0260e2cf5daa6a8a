import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  main,
  planReproduce,
  portableResults,
  rowsFromRuns,
  type ReproduceResults,
} from '@ediy/cli';
import { captureIO, tempDir } from './helpers.js';

/** A finished run directory as ediy pretrain + ediy eval leave it, without training. */
function fakeRun(dir: string, name: string, seed: number, knn: number): string {
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
      fakeRun(dir, 'untrained', 0, 0.2),
    ];
    const out = join(dir, 'my-table');
    const io = captureIO();
    expect(await main(['report', ...runs, '--out', out, '--title', 'my table'], io), io.err()).toBe(
      0,
    );
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ReproduceResults;
    expect(results.rows.map((r) => r.id)).toEqual(['byol', 'my-loss', 'untrained']);
    expect(results.rows[0]?.runs.map((r) => [r.seed, r.runDir])).toEqual([
      [0, '../runs/byol/seed-0'],
      [1, '../runs/byol/seed-1'],
    ]);
    expect(results.rows[1]?.summary.knnTop1.mean).toBeCloseTo(0.7, 12);
    expect(results.rows[2]?.summary.knnTop1.std).toBeNull();
    expect(results.preset).toBe('smoke');
    expect(results.seeds).toEqual([0, 1]);
    expect(results.seconds).toBe(15);
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    expect(md).toContain('# my table: 3 rows at preset `smoke`');
    expect(md).toContain('| my-loss | **0.700 ± 0.141** |');
    expect(md).toContain('| *untrained* | 0.200 |');
    for (const name of ['metrics', 'loss-curves']) {
      expect(md).toContain(`(plots/${name}.png)`);
      const png = PNG.sync.read(readFileSync(join(out, 'plots', `${name}.png`)));
      expect(png.width * png.height).toBeGreaterThan(10_000);
      expect(io.out()).toContain(join(out, 'plots', `${name}.png`));
    }
    // Two trained rows x four metrics with values (dense mIoU is n/a): eight dots.
    const svg = readFileSync(join(out, 'plots', 'metrics.svg'), 'utf8');
    const dots = svg.match(/<g class="mark-symbol role-mark[^"]*"[^>]*>(.*?)<\/g>/g) ?? [];
    expect(dots.join('').match(/<path /g)).toHaveLength(8);
    // The untrained row is the dashed reference line, once per metric with a value.
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(4);
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
