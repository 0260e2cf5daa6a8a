/**
 * The page in headless Chromium (Debian's `chromium`, driven by playwright-core), on two
 * run folders the trainer made: the pairs it draws are the matchers' output computed in
 * Node for the same image and views (so pairing the wrong view, or the wrong backbone,
 * fails), hovering a region paints its similarity map, and nothing throws.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { IMAGENET_NORMALIZE, byolViewParams, byolViews, normalizeImages } from '@ediy/augment';
import { resnet } from '@ediy/backbones';
import { Rng } from '@ediy/core';
import { mostDissimilarWithin, mostSimilarAcross } from '@ediy/matchers';
import { latestCheckpoint, loadCheckpoint, restoreWeights } from '@ediy/trainer';
import { buildSite, serveSite, type ViewerServer } from '@ediy/viewer/node';
import { fixtureImages, trainFixtureRuns } from './fixture.js';

const CHROMIUM = process.env.EDIY_CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? undefined
  : `browser test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set EDIY_CHROMIUM)`;
if (skip) console.warn(skip);

let browser: Browser | undefined;
let server: ViewerServer | undefined;
let runs: Awaited<ReturnType<typeof trainFixtureRuns>>;
const images = fixtureImages();

beforeAll(async () => {
  if (skip) return;
  runs = await trainFixtureRuns();
  server = await serveSite(await buildSite({ runs: [runs.byol, runs.ediy], images }));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (runs) rmSync(runs.root, { recursive: true, force: true });
});

interface Drawn {
  kind: string;
  view: number;
  from: number;
  to: number;
}

/** Opens the page and waits until it has drawn; every page error and console error is collected. */
async function open(query: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${server!.url}${query}`);
  // SwiftShader (webgl on the CPU) compiles a shader per kernel: slow on a loaded machine
  await page.waitForFunction(() => 'ediyViewer' in globalThis, undefined, { timeout: 180_000 });
  await page.evaluate(
    () => (globalThis as unknown as { ediyViewer: { ready: Promise<void> } }).ediyViewer.ready,
  );
  return { page, errors };
}

type Hook = {
  show(image: number, seed: number): Promise<void>;
  setAllPairs(on: boolean): void;
  state(): {
    backend: string;
    boxes: unknown;
    flipped: unknown;
    views: [number[], number[]];
    grid: { h: number; w: number };
  };
};

async function drawnPairs(page: Page, run: number): Promise<Drawn[]> {
  return page.$$eval(`svg[data-run="${run}"] [data-kind]`, (els) =>
    els.map((e) => ({
      kind: e.getAttribute('data-kind') ?? '',
      view: Number(e.getAttribute('data-view')),
      from: Number(e.getAttribute('data-from')),
      to: Number(e.getAttribute('data-to')),
    })),
  );
}

/** A run's online backbone from its newest checkpoint, through the trainer's own reader. */
function nodeBackbone(runDir: string, name: string) {
  const ckpt = loadCheckpoint(latestCheckpoint(join(runDir, 'checkpoints')) as string);
  const model = resnet({ ...ckpt.state.config.scale.backbone, name, seed: 0 });
  restoreWeights(model, ckpt.weights['online.backbone'], 'online.backbone');
  tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);
  return model;
}

/** The pairs the matchers give in Node, for image `index` and views drawn from `seed`. */
function nodePairs(index: number, seed: number, pairingRun: string) {
  const [, H, W] = images.shape;
  const img = tf.tensor4d(images.data.slice(index * H * W * 3, (index + 1) * H * W * 3), [
    1,
    H,
    W,
    3,
  ]);
  const [v1, v2] = byolViews(img, new Rng(seed), byolViewParams(32, { scaleBlurSigma: true }));
  const model = nodeBackbone(pairingRun, `node_${Math.random().toString(36).slice(2)}`);
  const map = (x: tf.Tensor4D) => (model.predict(x) as tf.Tensor[])[0] as tf.Tensor4D;
  const pairs = tf.tidy(() => {
    const m1 = map(v1.images);
    const m2 = map(v2.images);
    return {
      rDem: [mostDissimilarWithin(m1).arraySync()[0], mostDissimilarWithin(m2).arraySync()[0]],
      rIem: [mostSimilarAcross(m1, m2).arraySync()[0], mostSimilarAcross(m2, m1).arraySync()[0]],
    } as { rDem: number[][]; rIem: number[][] };
  });
  const out = { pairs, views: [v1, v2], grid: tf.tidy(() => map(v1.images).shape) };
  model.dispose();
  img.dispose();
  return out;
}

it.skipIf(skip !== undefined)(
  'draws the R-DEM and R-IEM partners the matchers give in Node, for the same image and views',
  async () => {
    const { page, errors } = await open('?backend=cpu');
    expect(
      await page.evaluate(
        () => (globalThis as unknown as { ediyViewer: Hook }).ediyViewer.state().backend,
      ),
    ).toBe('cpu');
    await page.evaluate(async () => {
      const v = (globalThis as unknown as { ediyViewer: Hook }).ediyViewer;
      v.setAllPairs(true);
      await v.show(2, 7);
    });
    const state = await page.evaluate(() =>
      (globalThis as unknown as { ediyViewer: Hook }).ediyViewer.state(),
    );
    // BYOL has no teacher: its own backbone pairs; E-DIY's teacher is the BYOL run
    for (const [run, pairingRun] of [
      [0, runs.byol],
      [1, runs.byol],
    ] as const) {
      const node = nodePairs(2, 7, pairingRun);
      expect(state.boxes).toEqual(node.views.map((v) => v.boxes[0]));
      expect(state.flipped).toEqual(node.views.map((v) => v.flipped[0]));
      // the page's views, normalised as the pipeline does, are Node's views
      state.views.forEach((pixels, v) => {
        const theirs = normalizeImages(tf.tensor4d(pixels, [1, 32, 32, 3]), IMAGENET_NORMALIZE);
        const diff = tf.max(tf.abs(tf.sub(theirs, node.views[v]!.images))).dataSync()[0] as number;
        expect(diff).toBeLessThan(1e-5);
        theirs.dispose();
      });
      const [, h, w] = node.grid;
      expect(state.grid).toEqual({ h, w });
      const n = (h as number) * (w as number);
      expect(n).toBe(16);
      const want: Drawn[] = [];
      for (const v of [0, 1])
        for (let j = 0; j < n; j++) {
          want.push({ kind: 'r-dem', view: v, from: j, to: node.pairs.rDem[v]![j]! });
          want.push({ kind: 'r-iem', view: v, from: j, to: node.pairs.rIem[v]![j]! });
        }
      expect(await drawnPairs(page, run)).toEqual(want);
      tf.dispose(node.views.map((v) => v.images));
    }
    // the test tells the backbones apart: E-DIY's own backbone would pair otherwise than its teacher
    const own = nodePairs(2, 7, runs.ediy);
    expect(own.pairs).not.toEqual(nodePairs(2, 7, runs.byol).pairs);
    tf.dispose(own.views.map((v) => v.images));
    expect(errors).toEqual([]);
    await page.close();
  },
);

it.skipIf(skip !== undefined)(
  'paints a similarity map on hover, shows loss curves and a screenshot that is not empty',
  async () => {
    const { page, errors } = await open('');
    const backend = await page.evaluate(
      () => (globalThis as unknown as { ediyViewer: Hook }).ediyViewer.state().backend,
    );
    console.log(`viewer page backend without ?backend: ${backend}`);
    expect(['webgl', 'cpu']).toContain(backend);
    await page.hover('svg[data-run="1"] rect[data-view="1"][data-region="5"]');
    const painted = await page.$$eval(
      'svg[data-run="1"] rect.region',
      (rs) => rs.filter((r) => (r as SVGElement).style.fill !== '').length,
    );
    expect(painted).toBe(32);
    const selected = await page.$$eval('svg[data-run="1"] rect.region.selected', (rs) =>
      rs.map((r) => [r.getAttribute('data-view'), r.getAttribute('data-region')]),
    );
    expect(selected).toEqual([['1', '5']]);
    // one R-DEM and one R-IEM line for the hovered region
    expect((await drawnPairs(page, 1)).map((d) => `${d.kind}:${d.view}:${d.from}`)).toEqual([
      'r-dem:1:5',
      'r-iem:1:5',
    ]);
    expect(
      await page.$$eval('#curves polyline', (ps) => ps.map((p) => p.getAttribute('data-series'))),
    ).toEqual(expect.arrayContaining(['table1-byol', 'table1-ediy', 'r-dem', 'r-iem', 'byol']));
    // a Grad-CAM overlay per run, drawn (not blank), once its backward passes are done
    await page.waitForFunction(
      () => document.querySelectorAll('.saliency canvas').length === 2,
      undefined,
      {
        timeout: 180_000,
      },
    );
    const saliency = await page.$$eval('.saliency canvas', (cs) =>
      cs.map((c) => {
        const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 40, 40).data;
        return new Set(Array.from(d.filter((_, k) => k % 4 === 0))).size;
      }),
    );
    expect(saliency).toHaveLength(2);
    for (const distinct of saliency) expect(distinct).toBeGreaterThan(10);
    const png = await page.screenshot({ fullPage: true });
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    console.log(`screenshot ${width}x${height}, ${png.length} bytes`);
    expect(width).toBeGreaterThan(500);
    expect(height).toBeGreaterThan(500);
    expect(png.length).toBeGreaterThan(20_000);
    expect(errors).toEqual([]);
    await page.close();
  },
);
