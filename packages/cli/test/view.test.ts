/**
 * `ediy view`: on a run `ediy pretrain` made, it serves the viewer on 127.0.0.1 and prints
 * the URL (stopped by a signal), writes it as a static folder with `--out`, and names a
 * folder that is not a run and what it expected there.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '@ediy/cli';
import { parseCommandArgs } from '../src/args.js';
import { VIEW_SPEC, viewCommand } from '../src/commands/view.js';
import { captureIO, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

describe('ediy view', () => {
  const dir = tempDir('ediy-view-');
  const run = join(dir, 'runs', 'table1-byol', 'seed-0');

  beforeAll(async () => {
    const io = captureIO();
    const args = ['pretrain', 'table1/byol', '--preset', 'smoke', '--max-steps', '1'];
    args.push('--backend', await pipelineTestBackend(), '--out', join(dir, 'runs'));
    expect(await main(args, io), io.err()).toBe(0);
  });

  it('serves the page on 127.0.0.1, prints its URL, and stops on a signal', async () => {
    const io = captureIO();
    const stop = new AbortController();
    const args = parseCommandArgs(VIEW_SPEC, [run, '--port', '0', '--count', '3']);
    const done = viewCommand(args, io, stop.signal);
    let url = '';
    for (let i = 0; i < 600 && url === ''; i++) {
      await new Promise((r) => setTimeout(r, 50));
      url = io.out().trim();
    }
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const site = (await (await fetch(`${url}site.json`)).json()) as {
      runs: Array<{ label: string }>;
      images: { shape: number[]; source: string };
    };
    expect(site.runs.map((r) => r.label)).toEqual(['table1-byol']);
    expect(site.images.shape).toEqual([3, 20, 20, 3]);
    expect(site.images.source).toBe('scenes (held-out part)');
    expect((await fetch(`${url}runs/0/backbone.safetensors`)).status).toBe(200);
    expect((await fetch(`${url}runs/1/backbone.safetensors`)).status).toBe(404);
    stop.abort();
    expect(await done).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });

  it('writes a static folder with --out', async () => {
    const out = join(dir, 'site');
    const io = captureIO();
    expect(
      await main(['view', run, '--labels', 'BYOL', '--out', out, '--count', '2'], io),
      io.err(),
    ).toBe(0);
    expect(io.out().trim()).toBe(out);
    for (const f of ['index.html', 'viewer.js', 'images.f32', 'runs/0/backbone.safetensors'])
      expect(existsSync(join(out, f)), f).toBe(true);
    const site = JSON.parse(readFileSync(join(out, 'site.json'), 'utf8')) as {
      runs: Array<{ label: string }>;
    };
    expect(site.runs[0]?.label).toBe('BYOL');
  });

  it('shows exported backbones (--backbone, --teacher) with or without runs', async () => {
    const models = join(dir, 'models');
    const io = captureIO();
    for (const [format, out] of [
      ['tfjs', join(models, 'byol')],
      ['torchvision', join(models, 'byol.safetensors')],
    ] as const)
      expect(await main(['export', run, '--format', format, '--out', out], io), io.err()).toBe(0);
    const out = join(dir, 'models-site');
    const io2 = captureIO();
    const args = ['view', '--backbone', join(models, 'byol'), '--teacher'];
    args.push(join(models, 'byol.safetensors'), '--out', out, '--count', '2');
    expect(await main(args, io2), io2.err()).toBe(0);
    const site = JSON.parse(readFileSync(join(out, 'site.json'), 'utf8')) as {
      runs: Array<{ label: string; model?: { format: string }; teacher?: { label: string } }>;
      images: { shape: number[] };
    };
    expect(site.runs).toMatchObject([
      { label: 'byol', model: { format: 'tfjs' }, teacher: { label: 'byol' }, imageSize: 32 },
    ]);
    // no run: the mini preset's scenes (40 px)
    expect(site.images.shape).toEqual([2, 40, 40, 3]);
    const io3 = captureIO();
    const both = ['view', run, '--backbone', join(models, 'byol.safetensors')];
    expect(await main([...both, '--out', join(dir, 'both')], io3), io3.err()).toBe(0);
    const site2 = JSON.parse(readFileSync(join(dir, 'both', 'site.json'), 'utf8')) as {
      runs: Array<{ label: string; imageSize: number }>;
    };
    expect(site2.runs.map((r) => [r.label, r.imageSize])).toEqual([
      ['table1-byol', 16],
      ['byol', 16],
    ]);
  });

  it('names a model path that is not an exported backbone, and a missing run or --backbone', async () => {
    const io = captureIO();
    expect(await main(['view', '--backbone', run, '--out', join(dir, 'y')], io)).toBe(1);
    expect(io.err()).toContain(
      `ediy: error: ${run}: no model.json in this directory (it is a run folder: pass it to 'ediy view' as a run, not as a model)`,
    );
    const io2 = captureIO();
    expect(await main(['view'], io2)).toBe(2);
    expect(io2.err()).toContain('expected a run folder or --backbone <model>');
    const io3 = captureIO();
    expect(await main(['view', run, '--teacher', join(dir, 'models', 'byol')], io3)).toBe(2);
    expect(io3.err()).toContain(
      '--teacher pairs the regions of --backbone; give --backbone <model> too',
    );
  });

  it('names a folder that is not a run, and what it expected there', async () => {
    const notRun = join(dir, 'empty');
    mkdirSync(notRun);
    const io = captureIO();
    expect(await main(['view', notRun, '--out', join(dir, 'x')], io)).toBe(1);
    expect(io.err()).toContain(
      `ediy: error: ${notRun}: no checkpoint; expected ${join(notRun, 'checkpoints', 'step-NNNNNNNN', 'state.json')}`,
    );
    const io2 = captureIO();
    expect(await main(['view', join(dir, 'nope')], io2)).toBe(2);
    expect(io2.err()).toContain(`"${join(dir, 'nope')}" not found; expected a run folder`);
  });
});
