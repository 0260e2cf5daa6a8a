import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatSummary,
  meanLossCurve,
  METRICS,
  pairedGains,
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

describe('pairedGains', () => {
  const runsOf = (ks: number[], seeds = ks.map((_, i) => i)): RunResult[] =>
    ks.map((k, i) => ({
      seed: seeds[i] as number,
      runDir: '',
      steps: 3,
      finalLoss: 1,
      metrics: metrics(k),
    }));
  const mk = (id: string, ks: number[], seeds?: number[]) => {
    const runs = runsOf(ks, seeds);
    return { id, name: id, label: id, runs, summary: plain(summarizeRuns(runs)) };
  };

  it('takes each seed against the floor of the same seed, with a t-interval over the seeds', () => {
    // Floors 0.70 / 0.60 / 0.80 and the row 0.72 / 0.63 / 0.825, listed in another seed order:
    // differences +0.02, +0.03, +0.025 -> mean 0.025, s = 0.005,
    // half = t(0.975, 2) 4.302653 x 0.005 / sqrt(3) = 0.01242.
    const floor = mk('untrained', [0.7, 0.6, 0.8]);
    const row = mk('ediy', [0.825, 0.72, 0.63], [2, 0, 1]);
    const [g] = pairedGains([row, floor]);
    const knn = g?.gains.find((x) => x.key === 'knnTop1');
    expect(knn?.seeds).toEqual([2, 0, 1]);
    expect(knn?.differences.map((d) => +d.toFixed(12))).toEqual([0.025, 0.02, 0.03]);
    expect(knn?.mean).toBeCloseTo(0.025, 12);
    const half = (4.302653 * 0.005) / Math.sqrt(3);
    expect(knn?.ci95?.[0]).toBeCloseTo(0.025 - half, 5);
    expect(knn?.ci95?.[1]).toBeCloseTo(0.025 + half, 5);
    expect(knn?.verdict).toBe('better');
    // The region cosine is 0.5 in every run: differences 0, no spread, 0 inside.
    expect(g?.gains.find((x) => x.key === 'meanRegionCosine')?.verdict).toBe('inside');
    // No finite dense mIoU: left out.
    expect(g?.gains.some((x) => x.key === 'denseMIoU')).toBe(false);
  });

  it('says worse when the row is below its floor beyond the interval, inside when 0 is in it', () => {
    const floor = mk('untrained', [0.7, 0.6, 0.8]);
    const worse = pairedGains([mk('a', [0.6, 0.52, 0.69]), floor])[0]?.gains[0];
    expect(worse?.verdict).toBe('worse');
    const inside = pairedGains([mk('b', [0.75, 0.55, 0.8]), floor])[0]?.gains[0];
    expect(inside?.verdict).toBe('inside');
    expect(pairedGains([mk('c', [0.7])])).toEqual([]);
  });

  it('is a section of results.md, bold where the row clears its floor', () => {
    const md = resultsMarkdown({
      table: 'table1',
      preset: 'mini',
      seeds: [0, 1, 2],
      backend: 'wasm',
      data: 'scenes',
      rows: [mk('ediy', [0.72, 0.63, 0.825]), mk('untrained', [0.7, 0.6, 0.8])],
      seconds: 1,
      createdAt: '',
    });
    expect(md).toContain('## Against the untrained floor, paired by seed');
    const line = md.split('\n').find((l) => l.startsWith('| ediy |') && l.includes('(+'));
    expect(line).toContain('**+0.025 [+0.013, +0.037] (+0.020, +0.030, +0.025)**');
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
