import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  lossCurvesSpec,
  lossPoints,
  metricDotPlotSpec,
  metricPoints,
  METRICS,
  monitorCurvesSpec,
  monitorPoints,
  PLOT_COLOURS,
  renderSvg,
  savePlot,
  summarizeRuns,
  TOTAL_TERM,
  type MetricPoint,
  type RowResult,
  type StepRecordLike,
} from '@ediy/cli';
import { tempDir } from './helpers.js';

type Node = Record<string, unknown>;

/** Every element named `tag` under `node`, with the class of the nearest enclosing <g>. */
function elements(node: unknown, tag: string, group = ''): Array<Node & { group: string }> {
  const out: Array<Node & { group: string }> = [];
  if (node === null || typeof node !== 'object') return out;
  const here = typeof (node as Node).class === 'string' ? ((node as Node).class as string) : group;
  for (const [key, value] of Object.entries(node as Node)) {
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) {
      if (item === null || typeof item !== 'object') continue;
      if (key === tag) {
        const cls =
          typeof (item as Node).class === 'string' ? ((item as Node).class as string) : '';
        out.push({ ...(item as Node), group: key === 'g' ? cls : here });
      }
      out.push(
        ...elements(item, tag, key === 'g' ? (((item as Node).class as string) ?? here) : here),
      );
    }
  }
  return out;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
});
const texts = (doc: unknown): string[] =>
  elements(doc, 'text').map((t) => String(t['#text'] ?? ''));

const points: MetricPoint[] = [
  { row: 'BYOL', metric: 'kNN top-1', mean: 0.5, low: 0.45, high: 0.55 },
  { row: 'E-DIY', metric: 'kNN top-1', mean: 0.6, low: 0.5, high: 0.65, best: true },
  { row: 'R-DEM only', metric: 'kNN top-1', mean: 0.55 },
  { row: 'untrained', metric: 'kNN top-1', mean: 0.3, reference: true },
  { row: 'BYOL', metric: 'effective rank', mean: 5, low: 4, high: 6 },
  { row: 'E-DIY', metric: 'effective rank', mean: 7, best: true },
  { row: 'R-DEM only', metric: 'effective rank', mean: NaN },
];

describe('metricDotPlotSpec', () => {
  it('draws one dot per finite row x metric, a rule per interval and a dashed reference', async () => {
    const svg = await renderSvg(metricDotPlotSpec(points, { title: 'Table 1 at mini' }));
    const doc = parser.parse(svg);
    const dots = elements(doc, 'path').filter((p) => p.group.includes('mark-symbol role-mark'));
    // 3 trained rows x 2 metrics, less the NaN one; the untrained row is no dot.
    expect(dots).toHaveLength(5);
    const best = dots.filter((d) => String(d.fill).toLowerCase() === PLOT_COLOURS.best);
    expect(best).toHaveLength(2);
    const lines = elements(doc, 'line').filter((l) => l.group.includes('role-mark'));
    const dashed = lines.filter((l) => l['stroke-dasharray'] !== undefined);
    expect(dashed).toHaveLength(1);
    expect(lines.length - dashed.length).toBe(3); // the three points with an interval
    const words = texts(doc);
    for (const label of [
      'BYOL',
      'E-DIY',
      'R-DEM only',
      'kNN top-1',
      'effective rank',
      'Table 1 at mini',
      'untrained',
    ])
      expect(words).toContain(label);
  });

  it('puts the interval ends and the mean where the x scale says', async () => {
    const svg = await renderSvg(
      metricDotPlotSpec([{ row: 'a', metric: 'm', mean: 0.5, low: 0.2, high: 0.8 }], {
        title: 't',
      }),
    );
    const doc = parser.parse(svg);
    const rule = elements(doc, 'line').find((l) => l.group.includes('role-mark')) as Node;
    const dot = elements(doc, 'path').find((p) => p.group.includes('mark-symbol')) as Node;
    const x1 = Number(rule.x2 ?? 0);
    const dotX = Number(/translate\(([\d.]+)/.exec(String(dot.transform))?.[1]);
    // The rule starts at its own origin (low) and runs x2 pixels to high; the mean lies halfway.
    const ruleX = Number(/translate\(([\d.]+)/.exec(String(rule.transform))?.[1]);
    expect(x1).toBeGreaterThan(100);
    expect(Math.abs(dotX - (ruleX + x1 / 2))).toBeLessThan(1);
  });

  it('names what it cannot draw', () => {
    expect(() => metricDotPlotSpec([{ row: 'a', metric: 'm', mean: NaN }], { title: 't' })).toThrow(
      /at least one finite point/,
    );
    expect(() =>
      metricDotPlotSpec([{ row: 'a', metric: 'm', mean: 1, low: NaN, high: 2 }], { title: 't' }),
    ).toThrow(/points\[0\].low \(a, m\) must be a finite number, got NaN/);
  });
});

describe('lossCurvesSpec', () => {
  it('draws one line per row and term, in a panel per term', async () => {
    const pts = ['byol', 'ediy'].flatMap((row) =>
      ['total', 'byol', 'rdem'].flatMap((term) =>
        [1, 2, 3, 4].map((step) => ({ row, term, step, value: 1 / step + term.length })),
      ),
    );
    const doc = parser.parse(await renderSvg(lossCurvesSpec(pts, { title: 'loss' })));
    const lines = elements(doc, 'path').filter((p) => p.group.includes('mark-line role-mark'));
    expect(lines).toHaveLength(6);
    const words = texts(doc);
    for (const w of ['total', 'rdem', 'byol', 'ediy', 'step']) expect(words).toContain(w);
    expect(() =>
      lossCurvesSpec([{ row: 'a', term: 't', step: 1, value: NaN }], { title: '' }),
    ).toThrow(/at least one finite point/);
  });
});

describe('monitorCurvesSpec', () => {
  it('draws one line per row and seed, a dot per measurement, where the scales say', async () => {
    const log = (offset: number) =>
      [16, 32, 48].map((step) => ({ step, monitor: { knnTop1: offset + step / 100, ms: 5 } }));
    const pts = monitorPoints([
      {
        label: 'BYOL',
        runs: [
          { seed: 0, log: [{ step: 1 }, ...log(0)] },
          { seed: 1, log: log(0.05) },
        ],
      },
      { label: 'E-DIY', runs: [{ seed: 0, log: log(0.1) }] },
      { label: 'no monitor', runs: [{ seed: 0, log: [{ step: 1 }, { step: 2 }] }] },
    ]);
    // Steps without a measurement and runs without the monitor add no point.
    expect(pts).toHaveLength(9);
    expect(pts[0]).toEqual({ row: 'BYOL', seed: 0, step: 16, value: 0.16 });
    const doc = parser.parse(await renderSvg(monitorCurvesSpec(pts, { title: 'monitor' })));
    const lines = elements(doc, 'path').filter((p) => p.group.includes('mark-line role-mark'));
    expect(lines).toHaveLength(3);
    // A dash pattern per seed: seed 0's two lines share one, seed 1's line has another.
    const dashes = lines.map((l) => String(l['stroke-dasharray']));
    expect(new Set(dashes).size).toBe(2);
    expect(dashes.filter((d) => d === dashes[0])).toHaveLength(2);
    const dots = elements(doc, 'path').filter((p) => p.group.includes('mark-symbol role-mark'));
    expect(dots).toHaveLength(9);
    const words = texts(doc);
    for (const w of ['BYOL', 'E-DIY', 'step', 'kNN top-1 (monitor)', 'monitor'])
      expect(words).toContain(w);
    expect(words).not.toContain('no monitor');
    // The highest value (E-DIY at step 48, 58%) is the topmost dot, the lowest (16%) the lowest.
    const ys = dots.map((d) => Number(/translate\([\d.]+,([\d.]+)/.exec(String(d.transform))?.[1]));
    const values = pts.map((p) => p.value);
    expect(ys.indexOf(Math.min(...ys))).toBe(values.indexOf(Math.max(...values)));
    expect(ys.indexOf(Math.max(...ys))).toBe(values.indexOf(Math.min(...values)));
    expect(() =>
      monitorCurvesSpec([{ row: 'a', seed: 0, step: 1, value: NaN }], { title: '' }),
    ).toThrow(/at least one finite point/);
  });
});

describe('savePlot', () => {
  it('writes the SVG and a PNG at twice its size that is not blank', async () => {
    const dir = tempDir();
    const saved = await savePlot(
      metricDotPlotSpec(points, { title: 'x' }),
      join(dir, 'plots', 'metrics'),
    );
    const svg = parser.parse(readFileSync(saved.svg, 'utf8')) as {
      svg: { width: string; height: string };
    };
    const png = PNG.sync.read(readFileSync(saved.png));
    expect([png.width, png.height]).toEqual([
      2 * Number(svg.svg.width),
      2 * Number(svg.svg.height),
    ]);
    expect([saved.width, saved.height]).toEqual([png.width, png.height]);
    const colours = new Set<string>();
    let ink = 0;
    for (let i = 0; i < png.width * png.height; i++) {
      const [r, g, b] = [png.data[i * 4], png.data[i * 4 + 1], png.data[i * 4 + 2]];
      if (r !== 255 || g !== 255 || b !== 255) ink++;
      colours.add(`${r},${g},${b}`);
    }
    expect(ink / (png.width * png.height)).toBeGreaterThan(0.01);
    // The best row's red is drawn.
    expect(colours.has('228,87,86')).toBe(true);
  });
});

const metrics = (k: number) => ({
  knnTop1: k,
  linearTop1: k / 2,
  denseMIoU: NaN,
  meanRegionCosine: 1 - k,
  effectiveRank: 3,
});

function row(id: string, values: number[]): RowResult {
  const runs = values.map((k, seed) => ({
    seed,
    runDir: `/r/${id}/${seed}`,
    steps: 2,
    finalLoss: 1,
    metrics: metrics(k),
  }));
  // Mean, std and n only: the test adds the intervals it means to draw.
  const summary = Object.fromEntries(
    Object.entries(summarizeRuns(runs)).map(([k, v]) => [k, { mean: v.mean, std: v.std, n: v.n }]),
  ) as RowResult['summary'];
  return { id, name: id, label: id.toUpperCase(), runs, summary };
}

describe('metricPoints', () => {
  it('marks the best trained row per metric, the untrained row as reference, and reads ci95', () => {
    const rows = [row('byol', [0.4, 0.5]), row('ediy', [0.6, 0.7]), row('untrained', [0.9])];
    (rows[0] as RowResult).summary.knnTop1 = {
      ...(rows[0] as RowResult).summary.knnTop1,
      ci95: [0.3, 0.6],
    } as never;
    const pts = metricPoints(rows);
    expect(pts).toHaveLength(rows.length * METRICS.length);
    const knn = pts.filter((p) => p.metric.startsWith('kNN'));
    expect(knn.map((p) => [p.row, p.best, p.reference])).toEqual([
      ['BYOL', false, false],
      ['EDIY', true, false],
      ['UNTRAINED', false, true],
    ]);
    expect(knn[0]).toMatchObject({ low: 0.3, high: 0.6 });
    expect(knn[1]?.low).toBeUndefined();
    // Lower is better for the region cosine: 1 - 0.45 beats 1 - 0.65? No: ediy's 0.35 is lower.
    const cos = pts.filter((p) => p.metric.startsWith('region cosine'));
    expect(cos.find((p) => p.best)?.row).toBe('EDIY');
  });
});

describe('lossPoints', () => {
  const rec = (step: number, loss: number, terms: Record<string, number>): StepRecordLike => ({
    step,
    loss,
    terms,
  });

  it('averages every term and the total over seeds, step by step', () => {
    const pts = lossPoints([
      {
        label: 'E-DIY',
        logs: [
          [rec(1, 3, { byol: 2, rdem: 1 }), rec(2, 2, { byol: 1.5, rdem: 0.5 })],
          [rec(1, 5, { byol: 4, rdem: 1 })],
        ],
      },
    ]);
    const at = (term: string, step: number) =>
      pts.find((p) => p.term === term && p.step === step)?.value;
    expect(at(TOTAL_TERM, 1)).toBe(4);
    expect(at('byol', 1)).toBe(3);
    expect(at('rdem', 2)).toBe(0.5);
    expect(pts).toHaveLength(6);
  });

  it('thins a long log evenly and keeps the last step', () => {
    const log = Array.from({ length: 1000 }, (_, i) => rec(i + 1, 1 / (i + 1), {}));
    const pts = lossPoints([{ label: 'a', logs: [log] }], 100);
    expect(pts).toHaveLength(101);
    expect(pts[1]?.step).toBe(11);
    expect(pts[pts.length - 1]?.step).toBe(1000);
  });
});
