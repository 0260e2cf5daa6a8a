/**
 * The viewer's server: the files it serves (page, script, site.json, weights, images),
 * 404 for anything else, and errors that name a bad run folder and what was expected.
 */
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors } from '@ediy/backbones/interop';
import { latestCheckpoint } from '@ediy/trainer';
import type { ViewerSite } from '@ediy/viewer';
import {
  buildSite,
  readModelFile,
  serveSite,
  writeSite,
  type Site,
  type ViewerServer,
} from '@ediy/viewer/node';
import { exportFixtureModels, fixtureImages, trainFixtureRuns } from './fixture.js';

let runs: Awaited<ReturnType<typeof trainFixtureRuns>>;
let site: Site;
let server: ViewerServer;

beforeAll(async () => {
  runs = await trainFixtureRuns();
  site = await buildSite({ runs: [runs.byol, runs.ediy], images: fixtureImages(), minify: false });
  server = await serveSite(site);
});
const made: string[] = [];
afterAll(async () => {
  await server?.close();
  for (const dir of [runs?.root, ...made]) if (dir) rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, init?: RequestInit) => fetch(new URL(path, server.url), init);

describe('routes', () => {
  it('serves the page at / and its script, on 127.0.0.1', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<script type="module" src="viewer.js">');
    const script = await get('/viewer.js');
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    const code = await script.text();
    // TensorFlow.js and the packages are inside: no bare import is left for the browser
    expect(code).not.toMatch(/^import .* from ["']@/m);
    expect(code).toContain('mostDissimilarWithin');
  });

  it("describes both runs in site.json, the E-DIY run's teacher being the BYOL run", async () => {
    const doc = (await (await get('/site.json')).json()) as ViewerSite;
    expect(doc.runs.map((r) => r.label)).toEqual(['table1-byol', 'table1-ediy']);
    const [byol, ediy] = doc.runs as [ViewerSite['runs'][0], ViewerSite['runs'][0]];
    expect(byol.teacher).toBeUndefined();
    expect(byol.regionLosses).toEqual([]);
    expect(ediy.teacher).toMatchObject({
      label: 'table1-byol',
      step: 2,
      url: 'runs/1/teacher.safetensors',
    });
    expect(ediy.regionLosses.map((t) => `${t.loss}:${t.matcher}`)).toEqual([
      'r-dem:teacher',
      'r-iem:teacher',
    ]);
    expect(ediy.log.map((p) => p.step)).toEqual([1, 2]);
    expect(Object.keys(ediy.log[0]?.terms ?? {})).toEqual(['byol', 'r-dem', 'r-iem']);
    expect(doc.images).toMatchObject({ url: 'images.f32', shape: [4, 40, 40, 3] });
  });

  it("serves each backbone as the checkpoint's online.backbone tensors, in order", async () => {
    const res = await get('/runs/1/backbone.safetensors');
    expect(res.status).toBe(200);
    const served = readSafetensors(new Uint8Array(await res.arrayBuffer()));
    const ckpt = latestCheckpoint(join(runs.ediy, 'checkpoints')) as string;
    const stored = readSafetensors(new Uint8Array(readFileSync(join(ckpt, 'tensors.safetensors'))));
    const state = JSON.parse(readFileSync(join(ckpt, 'state.json'), 'utf8')) as {
      weights: Record<string, string[]>;
    };
    const n = state.weights['online.backbone']?.length ?? 0;
    expect(n).toBeGreaterThan(10);
    expect(served.size).toBe(n);
    for (let i = 0; i < n; i++) {
      const want = stored.get(`online.backbone/${i}`);
      expect(served.get(String(i))?.shape).toEqual(want?.shape);
      expect(served.get(String(i))?.data).toEqual(want?.data);
    }
    const teacher = readSafetensors(
      new Uint8Array(await (await get('/runs/1/teacher.safetensors')).arrayBuffer()),
    );
    const teacherCkpt = latestCheckpoint(join(runs.byol, 'checkpoints')) as string;
    const teacherStored = readSafetensors(
      new Uint8Array(readFileSync(join(teacherCkpt, 'tensors.safetensors'))),
    );
    expect(teacher.get('0')?.data).toEqual(teacherStored.get('online.backbone/0')?.data);
  });

  it('serves the images as float32 [N,H,W,3]', async () => {
    const bytes = new Uint8Array(await (await get('/images.f32')).arrayBuffer());
    expect(new Float32Array(bytes.buffer)).toEqual(fixtureImages().data);
  });

  it('answers 404 for any other path, 405 for other methods, and reads no file', async () => {
    for (const path of [
      '/nope',
      '/runs/2/backbone.safetensors',
      '/../package.json',
      '/runs/0/..%2fsite.json',
      '/runs/0/',
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(await res.text()).toMatch(/^not found: \//);
    }
    const post = await get('/site.json', { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    const head = await get('/site.json', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(
      site.files.get('site.json')?.body.byteLength,
    );
  });

  it('writes the same files as a static folder', () => {
    const out = mkdtempSync(join(tmpdir(), 'ediy-viewer-out-'));
    made.push(out);
    const written = writeSite(site, out);
    expect(written).toHaveLength(site.files.size);
    expect(readdirSync(out).sort()).toEqual([
      'images.f32',
      'index.html',
      'runs',
      'site.json',
      'viewer.js',
    ]);
    expect(readFileSync(join(out, 'runs', '1', 'teacher.safetensors'))).toEqual(
      Buffer.from(site.files.get('runs/1/teacher.safetensors')?.body ?? []),
    );
  });
});

describe('bad run folders', () => {
  const images = fixtureImages(1);
  it('names a missing folder and what was expected', async () => {
    const missing = join(tmpdir(), 'ediy-viewer-no-such-run');
    await expect(buildSite({ runs: [missing], images })).rejects.toThrow(
      `${missing}: not a folder; expected a run folder of 'ediy pretrain' (with checkpoints/step-*/state.json)`,
    );
  });

  it('names a folder without checkpoints and the file it looked for', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ediy-viewer-empty-'));
    made.push(empty);
    await expect(buildSite({ runs: [empty], images })).rejects.toThrow(
      `${empty}: no checkpoint; expected ${join(empty, 'checkpoints', 'step-NNNNNNNN', 'state.json')}`,
    );
  });

  it('names a checkpoint without its tensors, and an eval.json that is not JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ediy-viewer-half-'));
    made.push(dir);
    const ckpt = join(dir, 'checkpoints', 'step-00000002');
    mkdirSync(ckpt, { recursive: true });
    writeFileSync(
      join(ckpt, 'state.json'),
      readFileSync(join(latestCheckpoint(join(runs.byol, 'checkpoints')) as string, 'state.json')),
    );
    await expect(buildSite({ runs: [dir], images })).rejects.toThrow(
      `${join(ckpt, 'tensors.safetensors')}: checkpoint tensors not found`,
    );
    writeFileSync(
      join(ckpt, 'tensors.safetensors'),
      readFileSync(
        join(latestCheckpoint(join(runs.byol, 'checkpoints')) as string, 'tensors.safetensors'),
      ),
    );
    writeFileSync(join(dir, 'eval.json'), '{"metrics": ');
    await expect(buildSite({ runs: [dir], images })).rejects.toThrow(
      `${join(dir, 'eval.json')}: the evaluation is not valid JSON`,
    );
  });

  it('rejects images that are not [N,H,W,3] in [0, 1], naming the value', async () => {
    await expect(
      buildSite({ runs: [runs.byol], images: { ...images, shape: [1, 40, 40, 1] } }),
    ).rejects.toThrow('images.shape must be [N,H,W,3] of positive integers, got [1,40,40,1]');
    const bad = Float32Array.from(images.data);
    bad[5] = 2;
    await expect(
      buildSite({ runs: [runs.byol], images: { ...images, data: bad } }),
    ).rejects.toThrow('images.data must be in [0, 1], got 2 at index 5');
  });

  it('names a port it cannot listen on', async () => {
    await expect(serveSite(site, { port: server.port })).rejects.toThrow(
      `cannot listen on 127.0.0.1:${server.port} (EADDRINUSE)`,
    );
  });
});

/** The online backbone tensors of a run's newest checkpoint, in order. */
function checkpointBackbone(runDir: string): Float32Array[] {
  const ckpt = latestCheckpoint(join(runDir, 'checkpoints')) as string;
  const stored = readSafetensors(new Uint8Array(readFileSync(join(ckpt, 'tensors.safetensors'))));
  const state = JSON.parse(readFileSync(join(ckpt, 'state.json'), 'utf8')) as {
    weights: Record<string, string[]>;
  };
  return (state.weights['online.backbone'] ?? []).map(
    (_, i) => stored.get(`online.backbone/${i}`)?.data as Float32Array,
  );
}

async function servedTensors(at: Site, path: string): Promise<Float32Array[]> {
  const file = at.files.get(path);
  if (!file) throw new Error(`the site has no ${path}`);
  const t = readSafetensors(file.body);
  return Array.from({ length: t.size }, (_, i) => t.get(String(i))?.data as Float32Array);
}

describe('exported backbones (ediy export), not run folders', () => {
  let models: Awaited<ReturnType<typeof exportFixtureModels>>;
  beforeAll(async () => {
    models = await exportFixtureModels(runs);
  });

  it('serves a TF.js Layers directory paired by a torchvision teacher, weights unchanged', async () => {
    const before = tf.memory().numTensors;
    const at = await buildSite({
      runs: [],
      models: [{ backbone: models.ediyTfjs, teacher: models.byolTorch }],
      images: fixtureImages(1),
    });
    expect(tf.memory().numTensors).toBe(before);
    const [run] = at.site.runs;
    expect(run).toMatchObject({
      id: 0,
      label: 'ediy-r18',
      model: { format: 'tfjs' },
      imageSize: 32, // a small stem and no run to take it from
      regionLosses: [],
      log: [],
      backbone: { backbone: { depth: 18, stem: 'small', widthMultiplier: 1 / 16 } },
      teacher: { label: 'byol-r18', url: 'runs/0/teacher.safetensors' },
    });
    expect(run?.backbone.step).toBeUndefined();
    // the page gets exactly the checkpoints' tensors, through both formats
    expect(await servedTensors(at, 'runs/0/backbone.safetensors')).toEqual(
      checkpointBackbone(runs.ediy),
    );
    expect(await servedTensors(at, 'runs/0/teacher.safetensors')).toEqual(
      checkpointBackbone(runs.byol),
    );
  });

  it('shows an exported backbone after the runs, at their view size', async () => {
    const at = await buildSite({
      runs: [runs.byol],
      models: [{ backbone: models.byolTorch, label: 'BYOL (torch)' }],
      images: fixtureImages(1),
    });
    expect(at.site.runs.map((r) => [r.label, r.model?.format, r.imageSize])).toEqual([
      ['table1-byol', undefined, 32],
      ['BYOL (torch)', 'torchvision', 32],
    ]);
    expect(at.site.runs[1]?.teacher).toBeUndefined();
    expect(await servedTensors(at, 'runs/1/backbone.safetensors')).toEqual(
      checkpointBackbone(runs.byol),
    );
  });

  it("loads a run's teacher given as a model directory (config teacher.modelDir)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ediy-viewer-modeldir-'));
    made.push(dir);
    cpSync(runs.ediy, dir, { recursive: true });
    const statePath = join(latestCheckpoint(join(dir, 'checkpoints')) as string, 'state.json');
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as { config: { teacher: unknown } };
    state.config.teacher = { modelDir: models.byolTfjs };
    writeFileSync(statePath, JSON.stringify(state));
    const at = await buildSite({ runs: [dir], images: fixtureImages(1) });
    expect(at.site.runs[0]?.teacher).toMatchObject({
      label: 'byol-r18',
      checkpoint: models.byolTfjs,
    });
    expect(at.site.runs[0]?.teacherNote).toBeUndefined();
    expect(await servedTensors(at, 'runs/0/teacher.safetensors')).toEqual(
      checkpointBackbone(runs.byol),
    );
  });

  it('names a path that is not an exported backbone, and what was expected', async () => {
    const expected = 'expected a TF.js Layers model directory (model.json + weights.bin';
    const missing = join(runs.root, 'models', 'nope.safetensors');
    await expect(readModelFile(missing)).rejects.toThrow(`${missing}: not found; ${expected}`);
    await expect(readModelFile(runs.byol)).rejects.toThrow(
      `${runs.byol}: no model.json in this directory (it is a run folder: pass it to 'ediy view' as a run, not as a model); ${expected}`,
    );
    const ckpt = join(
      latestCheckpoint(join(runs.byol, 'checkpoints')) as string,
      'tensors.safetensors',
    );
    await expect(readModelFile(ckpt)).rejects.toThrow(
      `${ckpt}: not a torchvision ResNet state dict: no key 'conv1.weight'`,
    );
    const log = join(runs.byol, 'log.jsonl');
    await expect(readModelFile(log)).rejects.toThrow(
      `${log}: neither a directory nor a .safetensors file; ${expected}`,
    );
    const cut = join(runs.root, 'models', 'cut');
    cpSync(models.byolTfjs, cut, { recursive: true });
    writeFileSync(
      join(cut, 'weights.bin'),
      readFileSync(join(cut, 'weights.bin')).subarray(0, 100),
    );
    await expect(readModelFile(cut)).rejects.toThrow(/holds 100 bytes; .* need \d+ \(truncated\)/);
    await expect(
      buildSite({ runs: [], models: [{ backbone: cut }], images: fixtureImages(1) }),
    ).rejects.toThrow(join(cut, 'weights.bin'));
    await expect(buildSite({ runs: [], images: fixtureImages(1) })).rejects.toThrow(
      'the viewer needs at least one run folder or exported backbone',
    );
  });
});
