import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { TABLE1 } from '@ediy/paper';
import type { ExperimentConfig } from '@ediy/trainer';
import {
  DEFAULT_MONITOR,
  loadTableFile,
  main,
  monitorFlag,
  monitorOf,
  planReproduce,
  readStepLog,
  SALIENCY_TAG,
  tableRow,
  type ReproduceResults,
} from '@ediy/cli';
import { PYTHON, captureIO, decodeEvents, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

/** The native engine when built here (as in CI), else plain wasm. */
const BACKEND = await pipelineTestBackend();

const example = fileURLToPath(new URL('../../../examples/extending/my-table.ts', import.meta.url));

/** Writes `text` to `name` in a fresh folder; returns the path. */
function file(name: string, text: string): string {
  const path = join(tempDir('ediy-table-'), name);
  writeFileSync(path, text);
  return path;
}

describe('a table file', () => {
  it('reads rows given as row ids, configs, or a base row and what changes', async () => {
    const path = file(
      'weights.yaml',
      `rows:
  byol: table1/byol
  half-rdem:
    base: table1/ediy
    method:
      regionLosses:
        - { loss: r-dem, weight: 0.5, matcher: teacher }
        - { loss: r-iem, weight: 1, matcher: teacher }
  same-ediy: { base: table1/ediy }
  plain:
    name: my-plain
    method: { byolWeight: 1, regionLosses: [], localPredictor: false }
`,
    );
    const table = await loadTableFile(path);
    expect(table.name).toBe('weights'); // the file's name
    expect(table.file).toBe(path);
    expect(table.rows.map(([id]) => id)).toEqual(['byol', 'half-rdem', 'same-ediy', 'plain']);
    const rows = Object.fromEntries(table.rows);
    expect(rows.byol).toEqual(TABLE1.byol);
    // A changed row is its own: named by its id, without the base's paper numbers.
    expect(rows['half-rdem']?.name).toBe('half-rdem');
    expect(rows['half-rdem']?.paper).toBeUndefined();
    expect(rows['half-rdem']?.method.regionLosses.map((t) => t.weight)).toEqual([0.5, 1]);
    expect(rows['half-rdem']?.method.localPredictor).toBe(true); // from the base
    // An unchanged base is the paper's row, numbers and all.
    expect(rows['same-ediy']).toEqual(TABLE1.ediy);
    expect(rows.plain?.name).toBe('my-plain');
  });

  it("applies a row's own optim and scale over the preset, below the command line", async () => {
    const path = file(
      'sweep.yaml',
      `rows:
  byol: table1/byol
  byol-lr05: { base: table1/byol, optim: { baseLr: 0.5 }, scale: { maxSteps: 40 } }
  t2-wu: { base: table2/equal, optim: { warmupFraction: 0.2 } }
  t2-plain: table2/equal
`,
    );
    const table = await loadTableFile(path);
    const plan = (overrides?: Array<{ layer: object; source: string }>) =>
      planReproduce({
        table,
        preset: 'mini',
        seeds: [0],
        out: tempDir('ediy-table-plan-'),
        ...(overrides ? { overrides } : {}),
      });
    const byRow = (p: ReturnType<typeof plan>) =>
      Object.fromEntries(p.jobs.map((j) => [j.row, j.config]));
    const rows = byRow(plan());
    expect(rows.byol?.optim.baseLr).toBe(1); // the preset's
    expect(rows['byol-lr05']?.optim.baseLr).toBe(0.5); // the row's, over the preset
    expect(rows['byol-lr05']?.scale.maxSteps).toBe(40);
    expect(rows['byol-lr05']?.optim.tau0).toBe(rows.byol?.optim.tau0); // the rest the preset's
    // A changed Table 2 row keeps Table 2's budget (its base row's epochs), as the paper row does.
    expect(rows['t2-wu']?.scale.maxSteps).toBe(rows['t2-plain']?.scale.maxSteps);
    expect(rows['t2-wu']?.scale.maxSteps).not.toBe(rows.byol?.scale.maxSteps);
    expect(rows['t2-wu']?.optim.warmupFraction).toBe(0.2);
    // The command line is over every row.
    const flagged = byRow(plan([{ layer: { optim: { baseLr: 2 } }, source: 'flags' }]));
    expect(flagged['byol-lr05']?.optim.baseLr).toBe(2);
    expect(flagged['byol-lr05']?.scale.maxSteps).toBe(40);
  });

  it("examples/results/byol1500.yaml is Table 1's BYOL row at 1500 steps of 64 images, the rest the preset's", async () => {
    const table = await loadTableFile(
      fileURLToPath(new URL('../../../examples/results/byol1500.yaml', import.meta.url)),
    );
    const jobs = planReproduce({
      table,
      preset: 'mini',
      seeds: [0],
      out: tempDir('ediy-byol1500-'),
    }).jobs;
    const run = jobs.find((j) => j.row === 'byol1500')?.config;
    const paper = planReproduce({
      table: 'table1',
      preset: 'mini',
      rows: ['byol'],
      seeds: [0],
      out: tempDir('ediy-byol450-'),
    }).jobs.find((j) => j.row === 'byol')?.config;
    expect(run?.scale.maxSteps).toBe(1500);
    expect(run?.scale.batchSize).toBe(64);
    expect(paper?.scale.maxSteps).toBe(900);
    expect(paper?.scale.batchSize).toBe(32);
    expect(run?.method).toEqual(paper?.method);
    expect({ ...run?.optim }).toEqual({ ...paper?.optim });
    expect({ ...run?.scale, maxSteps: 0, batchSize: 0 }).toEqual({
      ...paper?.scale,
      maxSteps: 0,
      batchSize: 0,
    });
  });

  it('names the file and what is wrong with it', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['a.yaml', 'rows: {}', /rows is empty/],
      ['b.yaml', 'name: x\n', /expected \{ name\?, rows:/],
      [
        'c.yaml',
        'rows: { x: table1/edyi }',
        /rows.x: unknown row "table1\/edyi"; did you mean "table1\/ediy"\?/,
      ],
      [
        'd.yaml',
        'rows: { x: { base: table9/byol, optim: { baseLr: 1 } } }',
        /rows.x.base: unknown row "table9\/byol"/,
      ],
      ['e.yaml', 'rows: { x: { name: x } }', /rows.x must state its method, or a base row id/],
      ['f.yaml', 'rows: { untrained: table1/byol }', /row id "untrained" is the untrained floor's/],
      ['g.yaml', 'rows: { "a b": table1/byol }', /row id "a b" must be letters, digits/],
      [
        'h.yaml',
        'rows: { x: table1/byol }\ncolumns: 3',
        /unknown key columns; a table has name and rows/,
      ],
      ['i.yaml', 'rows: { x: { base: table1/byol, optim: { baseLr: -1 } } }', /optim.baseLr/],
      ['j.ts', 'export const table = {};', /must export 'rows'.*it exports: table/],
      ['k.txt', 'rows: {}', /expected a .yaml, .yml, .json/],
    ];
    for (const [name, text, message] of cases) {
      const path = file(name, text);
      await expect(loadTableFile(path), name).rejects.toThrow(message);
    }
    await expect(loadTableFile('/no/such/table.ts')).rejects.toThrow(
      /table \/no\/such\/table.ts does not exist/,
    );
    expect(() => tableRow('x', 42, 't.yaml')).toThrow(/rows.x must be a row id .* got 42/);
    // On the command line: a usage error (exit 2) naming the file.
    const io = captureIO();
    expect(await main(['reproduce', file('bad.yaml', 'rows: {}'), '--preset', 'smoke'], io)).toBe(
      2,
    );
    expect(io.err()).toMatch(/ediy reproduce: table .*bad.yaml: rows is empty/);
  });
});

describe('ediy reproduce <table file> --preset smoke', () => {
  it('runs examples/extending/my-table.ts with one command: teacher, rows, results.md, plots, TensorBoard', async () => {
    const out = tempDir('ediy-my-table-');
    const io = captureIO();
    const t0 = performance.now();
    const code = await main(
      ['reproduce', example, '--preset', 'smoke', '--backend', BACKEND, '--out', out],
      io,
    );
    console.log(
      `reproduce my-table.ts --preset smoke: ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    expect(code, io.err()).toBe(0);
    expect(io.err()).toMatch(/\[4\/4\] my-table\/ediy-half-rdem seed 0 step \d+\/\d+/);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ReproduceResults;
    expect(results.table).toBe('my-table');
    expect(results.rows.map((r) => r.id)).toEqual([
      'byol',
      'ediy',
      'region-variance',
      'ediy-half-rdem',
      'untrained',
    ]);
    // Table 1's BYOL row is the teacher run, trained once; the E-DIY rows pair with it.
    expect(results.teacher).toBe('teacher');
    expect(results.rows[0]?.runs[0]?.runDir).toBe('teacher');
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    expect(md).toMatch(/^# my-table at preset `smoke`/);
    for (const row of results.rows) {
      expect(md).toContain(row.id === 'untrained' ? `| *${row.label}* |` : `| ${row.label} |`);
      const ci = row.summary.knnTop1.ci95 as [number, number];
      expect(ci[0]).toBeLessThanOrEqual(row.summary.knnTop1.mean);
      expect(ci[1]).toBeGreaterThanOrEqual(row.summary.knnTop1.mean);
    }
    // The new loss trained as a term of its row.
    const log = readStepLog(join(out, 'runs', 'region-variance', 'seed-0', 'log.jsonl'));
    expect(log.length).toBeGreaterThan(0);
    expect(Number.isFinite(log[0]?.terms['region-variance'])).toBe(true);
    // No kNN monitor at smoke unless asked: no monitor plot.
    expect(log.every((r) => r.monitor === undefined)).toBe(true);
    expect(existsSync(join(out, 'plots', 'monitor.png'))).toBe(false);
    // A saliency grid of every trained row: the raw image column, one column per row, a colour bar.
    const grid = PNG.sync.read(readFileSync(join(out, 'plots', 'saliency-grid.png')));
    expect(md).toContain('(plots/saliency-grid.png)');
    // ... and as an image of the table's own TensorBoard files, decoded independently.
    if (existsSync(PYTHON)) {
      const images = decodeEvents(join(out, 'tb')).filter((e) => e.images);
      expect(images).toHaveLength(1);
      const image = images[0]?.images?.[SALIENCY_TAG];
      expect(image).toMatchObject({ width: grid.width, height: grid.height });
      expect(image?.png_pixels).toBe(grid.width * grid.height);
      expect(image?.png_bytes).toBe(readFileSync(join(out, 'plots', 'saliency-grid.png')).length);
      expect(images[0]?.step).toBe(Math.max(...results.rows.map((r) => r.runs[0]?.steps ?? 0)));
    }
  });
});

describe('the kNN monitor in reproduce', () => {
  it('is on by default at mini on its scenes, off at smoke, and chosen by the flags', () => {
    const args = (values: Record<string, string | boolean>) => ({ positionals: [], values });
    const scenes = { kind: 'scenes', count: 8, size: 8, numClasses: 2, seed: 0 } as const;
    const folder = { kind: 'path', path: 'photos' } as const;
    expect(monitorFlag(args({}), 'mini', scenes, 'reproduce')).toEqual(DEFAULT_MONITOR.mini);
    expect(DEFAULT_MONITOR.mini).toEqual({ every: 32, images: 256 });
    expect(monitorFlag(args({}), 'smoke', scenes, 'reproduce')).toBeUndefined();
    expect(monitorFlag(args({}), 'mini', folder, 'reproduce')).toBeUndefined();
    expect(monitorFlag(args({ 'no-monitor': true }), 'mini', scenes, 'x')).toBeUndefined();
    expect(monitorFlag(args({ monitor: '2' }), 'smoke', folder, 'x')).toEqual({
      every: 2,
      images: 256,
    });
    expect(monitorFlag(args({ 'monitor-images': '64' }), 'mini', scenes, 'x')).toEqual({
      every: 32,
      images: 64,
    });
    expect(() => monitorFlag(args({ monitor: '0' }), 'mini', scenes, 'x')).toThrow(
      /--monitor must be an integer >= 1; got "0"/,
    );
    expect(() => monitorFlag(args({ 'monitor-images': '9' }), 'smoke', scenes, 'x')).toThrow(
      /--monitor-images needs the kNN monitor/,
    );
    expect(() =>
      monitorFlag(args({ 'no-monitor': true, monitor: '3' }), 'mini', scenes, 'x'),
    ).toThrow(/--no-monitor turns the kNN monitor off/);
    // The library's reproduce: the preset's default for every run, teacher included.
    for (const preset of ['mini', 'smoke'] as const) {
      const plan = planReproduce({ table: 'table1', preset, rows: ['ediy'], out: tempDir() });
      for (const job of [plan.teacher, ...plan.jobs]) {
        const config = job?.config as ExperimentConfig;
        expect(monitorOf({}, plan, config)).toEqual(
          preset === 'mini' ? { monitor: { every: 32, images: 256 } } : {},
        );
        expect(monitorOf({ monitor: false }, plan, config)).toEqual({});
      }
    }
  });

  it('asked for at smoke, its curve is in the TensorBoard files and in plots/monitor', async () => {
    const table = file('one-row.yaml', 'name: one-row\nrows:\n  byol: table1/byol\n');
    const out = tempDir('ediy-monitor-');
    const io = captureIO();
    const argv = [
      'reproduce',
      table,
      '--preset',
      'smoke',
      '--monitor',
      '2',
      '--monitor-images',
      '8',
    ];
    expect(await main([...argv, '--backend', BACKEND, '--out', out], io), io.err()).toBe(0);
    const runDir = join(out, 'runs', 'byol', 'seed-0'); // no row needs a teacher
    const log = readStepLog(join(runDir, 'log.jsonl'));
    const measured = log.filter((r) => r.monitor !== undefined);
    // Every 2 steps and at the last.
    const last = log.length;
    expect(measured.map((r) => r.step)).toEqual([
      ...new Set([...log.map((r) => r.step).filter((s) => s % 2 === 0), last]),
    ]);
    for (const r of measured) {
      expect(r.monitor?.knnTop1).toBeGreaterThanOrEqual(0);
      expect(r.monitor?.knnTop1).toBeLessThanOrEqual(1);
    }
    if (existsSync(PYTHON)) {
      const curve = decodeEvents(join(runDir, 'tb'))
        .filter((e) => e.scalars?.['monitor/knn_top1'] !== undefined)
        .map((e) => [e.step, e.scalars?.['monitor/knn_top1']]);
      expect(curve).toEqual(measured.map((r) => [r.step, Math.fround(r.monitor?.knnTop1 ?? NaN)]));
    }
    const svg = readFileSync(join(out, 'plots', 'monitor.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('kNN top-1 (monitor)');
    expect(readFileSync(join(out, 'results.md'), 'utf8')).toContain('(plots/monitor.png)');
    expect(PNG.sync.read(readFileSync(join(out, 'plots', 'monitor.png'))).width).toBeGreaterThan(
      100,
    );
  });
});
