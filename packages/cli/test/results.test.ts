import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatSummary,
  meanLossCurve,
  METRICS,
  readStepLog,
  resultsMarkdown,
  saliencyPair,
  summarize,
  summarizeRuns,
  type ReproduceResults,
  type RunResult,
} from '@ediy/cli';
import { tempDir } from './helpers.js';

const metrics = (k: number) => ({
  knnTop1: k,
  linearTop1: k / 2,
  denseMIoU: NaN,
  meanRegionCosine: 0.5,
  effectiveRank: 3,
});

describe('summaries', () => {
  it('gives the mean and the sample standard deviation', () => {
    // mean of 1, 2, 3, 6 = 3; squared deviations 4 + 1 + 0 + 9 = 14; / (4 - 1) -> sqrt(14/3).
    const s = summarize([1, 2, 3, 6]);
    expect(s.mean).toBe(3);
    expect(s.std).toBeCloseTo(Math.sqrt(14 / 3), 12);
    expect(s.n).toBe(4);
  });

  it('ignores non-finite values and handles one or none', () => {
    expect(summarize([2, NaN])).toEqual({ mean: 2, std: null, n: 1 });
    expect(summarize([])).toEqual({ mean: NaN, std: null, n: 0 });
    const none = summarize([NaN]);
    expect(none.n).toBe(0);
    expect(formatSummary(none)).toBe('n/a');
    expect(formatSummary({ mean: 0.5, std: 0.01, n: 2 })).toBe('0.500 ± 0.010');
    expect(formatSummary({ mean: 0.5, std: null, n: 1 })).toBe('0.500');
    // An interval, when the summary carries one, follows in brackets.
    const withCi = { mean: 0.5, std: 0.01, n: 3, ci95: [0.475, 0.525] };
    expect(formatSummary(withCi)).toBe('0.500 ± 0.010 [0.475, 0.525]');
    expect(formatSummary({ mean: 0.5, std: null, n: 1, ci95: [0.4, 0.6] } as never)).toBe(
      '0.500 [0.400, 0.600]',
    );
    expect(formatSummary({ mean: 0.5, std: null, n: 1, ci95: null } as never)).toBe('0.500');
  });

  it('summarises every metric over runs', () => {
    const runs: RunResult[] = [0.4, 0.6].map((k, seed) => ({
      seed,
      runDir: '',
      steps: 3,
      finalLoss: 1,
      metrics: metrics(k),
    }));
    const s = summarizeRuns(runs);
    expect(Object.keys(s).sort()).toEqual(METRICS.map((m) => m.key).sort());
    expect(s.knnTop1.mean).toBeCloseTo(0.5, 12);
    expect(s.knnTop1.std).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(s.denseMIoU.n).toBe(0);
    // Two seeds: Student's t, 0.5 ± t(0.975, 1) 0.1414 / sqrt(2) = 0.5 ± 1.2706.
    expect(s.knnTop1.ci95?.[0]).toBeCloseTo(0.5 - 12.7062 * 0.1, 3);
    expect(s.knnTop1.ci95?.[1]).toBeCloseTo(0.5 + 12.7062 * 0.1, 3);
    expect(s.denseMIoU.ci95).toBeUndefined();
    // One seed: the run's own bootstrap interval; none without one.
    const one = summarizeRuns([
      {
        ...(runs[0] as RunResult),
        intervals: {
          knnTop1: {
            estimate: 0.4,
            low: 0.35,
            high: 0.45,
            level: 0.95,
            method: 'bootstrap',
            n: 100,
          },
        },
      },
    ]);
    expect(one.knnTop1.ci95).toEqual([0.35, 0.45]);
    expect(one.linearTop1.ci95).toBeUndefined();
  });
});

/** A row's summary without intervals (mean, std, n), for tests of the other columns. */
function plain(summary: ReturnType<typeof summarizeRuns>): ReturnType<typeof summarizeRuns> {
  return Object.fromEntries(
    Object.entries(summary).map(([k, v]) => [k, { mean: v.mean, std: v.std, n: v.n }]),
  ) as ReturnType<typeof summarizeRuns>;
}

describe('resultsMarkdown', () => {
  it("puts our metrics beside the paper's numbers and says they are proxies", () => {
    const runs: RunResult[] = [0.4, 0.6].map((k, seed) => ({
      seed,
      runDir: '',
      steps: 3,
      finalLoss: 2 + seed,
      metrics: metrics(k),
    }));
    const results: ReproduceResults = {
      table: 'table1',
      preset: 'smoke',
      seeds: [0, 1],
      backend: 'wasm',
      data: 'scenes',
      rows: [
        {
          id: 'ediy',
          name: 'table1-ediy',
          label: 'BYOL + TG R-DEM + TG R-IEM (E-DIY)',
          paper: {
            table: 1,
            row: 7,
            label: 'E-DIY',
            epochs: 300,
            numbers: { APbb: 41.1, APmk: 37.3 },
          },
          runs,
          summary: plain(summarizeRuns(runs)),
        },
      ],
      seconds: 12,
      createdAt: '',
    };
    const md = resultsMarkdown(results, ['plots/metrics.png']);
    expect(md).toContain('| Row | paper APbb | paper APmk | kNN top-1 ↑ |');
    expect(md).toContain(
      '| BYOL + TG R-DEM + TG R-IEM (E-DIY) | 41.1 | 37.3 | **0.500 ± 0.141** | **0.250 ± 0.071** | n/a |',
    );
    expect(md).toMatch(/training loss is not a column: each row sums its own terms/);
    expect(md).toMatch(/not the paper's APs/);
    expect(md).toMatch(/pipeline runs and say nothing about the methods/);
    expect(resultsMarkdown({ ...results, preset: 'mini' })).not.toMatch(
      /say nothing about the methods/,
    );
    expect(md).toContain('![plots/metrics.png](plots/metrics.png)');
  });

  it('marks the best trained row of each metric, never the untrained one, and shows intervals', () => {
    const runsOf = (ks: number[]): RunResult[] =>
      ks.map((k, seed) => ({ seed, runDir: '', steps: 3, finalLoss: 1, metrics: metrics(k) }));
    const mk = (id: string, ks: number[]) => {
      const runs = runsOf(ks);
      return { id, name: id, label: id, runs, summary: plain(summarizeRuns(runs)) };
    };
    const byol = mk('byol', [0.4, 0.5]);
    const ediy = mk('ediy', [0.6, 0.8]);
    const untrained = mk('untrained', [0.9]);
    byol.summary.knnTop1 = { ...byol.summary.knnTop1, ci95: [0.1, 0.8] } as never;
    const md = resultsMarkdown({
      table: 'table1',
      preset: 'mini',
      seeds: [0, 1],
      backend: 'wasm',
      data: 'scenes',
      rows: [byol, ediy, untrained],
      seconds: 1,
      createdAt: '',
    });
    const line = (id: string) =>
      md.split('\n').find((l) => l.startsWith(`| ${id} `) || l.startsWith(`| *${id}* `));
    expect(line('byol')).toContain('| 0.450 ± 0.071 [0.100, 0.800] |');
    expect(line('ediy')).toContain('| **0.700 ± 0.141** |');
    expect(line('untrained')).toContain('| *untrained* | 0.900 |');
    expect(line('untrained')).not.toContain('**');
    expect(md).toMatch(/The \*untrained\* row is the randomly initialised backbone/);
    expect(md).toMatch(/95% interval in brackets/);
    expect(md).not.toMatch(/paper's columns/);
  });
});

describe('step logs', () => {
  it('reads a log keeping the last record of a repeated step', () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'log.jsonl');
    const rec = (step: number, loss: number) =>
      JSON.stringify({
        step,
        epoch: 0,
        loss,
        terms: {},
        lr: 0,
        tau: 0,
        imagesPerSec: 1,
        elapsedSec: 1,
      });
    writeFileSync(path, [rec(1, 4), rec(2, 3), rec(2, 2.5), rec(3, 2), ''].join('\n'));
    expect(readStepLog(path).map((r) => [r.step, r.loss])).toEqual([
      [1, 4],
      [2, 2.5],
      [3, 2],
    ]);
    expect(readStepLog(join(dir, 'missing.jsonl'))).toEqual([]);
    writeFileSync(path, `${rec(1, 4)}\n{oops\n`);
    expect(() => readStepLog(path)).toThrow(/log.jsonl:2: not a JSON step record/);
  });

  it('averages loss curves over runs step by step', () => {
    const r = (step: number, loss: number) => ({
      step,
      epoch: 0,
      loss,
      terms: {},
      lr: 0,
      tau: 0,
      imagesPerSec: 1,
      elapsedSec: 1,
    });
    expect(
      meanLossCurve([
        [r(1, 4), r(2, 2)],
        [r(1, 2), r(2, 4), r(3, 1)],
      ]),
    ).toEqual({ x: [1, 2, 3], y: [3, 3, 1] });
  });
});

describe('saliencyPair', () => {
  const row = (id: string) => ({
    id,
    name: id,
    label: id,
    runs: [{ seed: 0, runDir: `/r/${id}`, steps: 1, finalLoss: 1, metrics: metrics(0) }],
    summary: summarizeRuns([]),
  });

  it('compares the BYOL row with E-DIY, or the teacher when the table has no BYOL row (Table 2)', () => {
    expect(saliencyPair([row('byol'), row('tg-rdem'), row('ediy')], '/t')).toEqual([
      { label: 'BYOL', runDir: '/r/byol' },
      { label: 'E-DIY', runDir: '/r/ediy' },
    ]);
    expect(saliencyPair([row('byol-0.1'), row('equal')], '/t')).toEqual([
      { label: 'BYOL', runDir: '/t' },
      { label: 'E-DIY', runDir: '/r/equal' },
    ]);
    expect(saliencyPair([row('byol-0.1'), row('equal')], undefined)).toBeUndefined();
    expect(saliencyPair([row('byol')], '/t')).toBeUndefined();
  });
});
