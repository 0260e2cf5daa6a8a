/**
 * The viewer page: loads `site.json`, each run's backbone (and teacher), and for the
 * picked image draws the two views, their region grids, the teacher's R-DEM and R-IEM
 * partners and similarity heat maps, per run side by side; then the loss curves and the
 * evaluations, and trains a few E-DIY steps in the page with the loss plotted.
 * `?backend=cpu|webgl|webgpu` picks the backend (default: webgl, else cpu).
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { IMAGENET_NORMALIZE, regionCentres } from '@ediy/augment';
import { initBackend, type BackendPreference } from '@ediy/backend';
import {
  fromLayersModel,
  jet,
  overlayHeatmap,
  regionDiversityAsync,
  saliencyMapsAsync,
} from '@ediy/eval';
import {
  disposeViews,
  drawViews,
  loadBackbone,
  regionMapTensors,
  regionPairs,
  regionSimilarities,
  toHostMap,
  type HostRegionMap,
  type RegionPairs,
  type ViewPair,
} from '../analysis.js';
import {
  backboneFromLayersModel,
  backboneFromTorchvision,
  type ImportedBackbone,
} from '../models.js';
import { PageTrainer, type PageStep } from '../train.js';
import type { ViewerRun, ViewerSite, ViewerWeights } from '../site.js';
import { el, lineChart, svg } from './dom.js';

/** What the page shows for one run and the current views. */
interface RunView {
  run: ViewerRun;
  own: [HostRegionMap, HostRegionMap];
  pairing: [HostRegionMap, HostRegionMap];
  pairs: RegionPairs;
  diversity: { meanRegionCosine: number; effectiveRank: number };
  /** Grad-CAM of the run's backbone on the whole image, blended over it (RGBA), once computed. */
  saliency?: Uint8Array;
}

/** What tests and a console can read of the page. */
interface ViewerState {
  backend: string;
  imageIndex: number;
  seed: number;
  boxes: ViewPair['boxes'];
  flipped: ViewPair['flipped'];
  views: [number[], number[]];
  grid: { h: number; w: number };
  /** The shown image's pixels, `[H,W,3]` in [0, 1]. */
  image: number[];
  /** The labels of the runs and models shown, in order. */
  runs: string[];
}

const DISPLAY = 240; // px per view on screen
const GAP = 36;
const COLOURS = ['#1565c0', '#ef6c00', '#6a1b9a', '#2e7d32', '#c62828'];

const status = document.getElementById('status') as HTMLElement;
const hook: {
  ready?: Promise<void>;
  state?: () => ViewerState;
  show?: (image: number, seed: number) => Promise<void>;
  setAllPairs?: (on: boolean) => void;
  train?: (options: TrainRequest) => Promise<PageStep[]>;
  /** Settles once the last backbone picked in the page (or dropped on it) is shown, or failed. */
  lastLoad?: Promise<void>;
  /** The steps of the last training run the page's button started, once it is over. */
  lastTrain?: PageStep[];
} = {};

/** What the page's "train" control asks for (and tests through the hook). */
interface TrainRequest {
  /** Steps to take. */
  steps: number;
  /** LARS learning rate. */
  learningRate: number;
  /** The run whose backbone (and teacher) to start from, or -1 for a fresh network. */
  from: number;
}
(globalThis as Record<string, unknown>).ediyViewer = hook;

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function chooseBackend(): Promise<string> {
  const asked = new URLSearchParams(location.search).get('backend') as BackendPreference | null;
  if (asked) return (await initBackend({ prefer: asked })).name;
  // webgl where the browser has it, else the cpu backend
  const webgl = await initBackend({ prefer: 'webgl' }).catch(() => undefined);
  return (webgl ?? (await initBackend({ prefer: 'cpu' }))).name;
}

const MODEL_FILES =
  "expected a model.json with its weights.bin (a TF.js Layers model, 'ediy export') or one .safetensors file (a torchvision ResNet state dict, 'ediy export --format torchvision')";

/** Whether a file looks like part of an exported backbone (by its name). */
function isModelFile(file: File): boolean {
  return /\.(safetensors|json|bin)$/i.test(file.name);
}

/**
 * A backbone from files picked in (or dropped on) the page: a `.safetensors` torchvision
 * state dict, or a Layers `model.json` with its weight files.
 * @throws naming the files and what was expected.
 */
async function backboneFromFiles(files: File[], name: string): Promise<ImportedBackbone> {
  const names = files.map((f) => f.name).join(', ') || 'no file';
  const tensors = files.filter((f) => /\.safetensors$/i.test(f.name));
  const json = files.filter((f) => /\.json$/i.test(f.name));
  if (tensors.length === 1 && json.length === 0) {
    const file = tensors[0] as File;
    return backboneFromTorchvision(new Uint8Array(await file.arrayBuffer()), file.name, name);
  }
  if (json.length === 1 && tensors.length === 0) {
    const main = json[0] as File;
    const weights = files.filter((f) => f !== main);
    let loaded: LayersModel;
    try {
      loaded = await loadLayersModel(tf.io.browserFiles([main, ...weights]));
    } catch (err) {
      throw new Error(`${names}: ${(err as Error).message}; ${MODEL_FILES}`, { cause: err });
    }
    try {
      return backboneFromLayersModel(loaded, main.name, name);
    } finally {
      loaded.dispose();
    }
  }
  throw new Error(`${names}: ${MODEL_FILES}`);
}

function toCanvas(pixels: Float32Array, h: number, w: number): HTMLCanvasElement {
  const canvas = el('canvas', { width: w, height: h });
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    for (let c = 0; c < 3; c++)
      img.data[4 * i + c] = Math.round(255 * (pixels[3 * i + c] as number));
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

function heatColour(sim: number): string {
  const [r, g, b] = jet((sim + 1) / 2).map((v) => Math.round(255 * v));
  return `rgba(${r},${g},${b},0.45)`;
}

async function main(): Promise<void> {
  const backend = await chooseBackend();
  const site = (await (await fetch('site.json')).json()) as ViewerSite;
  const [N, H, W] = site.images.shape;
  const pixels = new Float32Array((await fetchBytes(site.images.url)).buffer);
  const load = async (w: ViewerWeights, name: string): Promise<LayersModel> =>
    loadBackbone(await fetchBytes(w.url), w, name);
  const models = await Promise.all(
    site.runs.map(async (run) => ({
      own: await load(run.backbone, `run${run.id}_backbone`),
      teacher: run.teacher ? await load(run.teacher, `run${run.id}_teacher`) : undefined,
    })),
  );
  const size = site.runs[0]?.imageSize ?? H;
  status.textContent = `${site.runs.length} run(s) on tfjs ${backend}; ${N} held-out images from ${site.images.source}; views of ${size} px`;

  let image = 0;
  let custom: Float32Array | undefined;
  let seed = site.seed;
  let views: ViewPair | undefined;
  let runViews: RunView[] = [];
  /** How many times show() has started: one whose reads finish after a later one's start draws nothing. */
  let shows = 0;
  let allPairs = false;
  let heatFrom: 'own' | 'pairing' = 'own';
  let pinned: { view: number; region: number } | undefined = { view: 0, region: 0 };
  let hovered: { view: number; region: number } | undefined;
  let uploads = 0;
  const saliencyCache = new Map<string, Uint8Array>();
  const trainer = trainControl(site, backend, pixels, models);

  // controls: thumbnails, upload, seed, toggles
  const controls = document.getElementById('controls') as HTMLElement;
  const thumbs = el('div', { id: 'thumbs' });
  for (let i = 0; i < N; i++) {
    const c = toCanvas(pixels.subarray(i * H * W * 3, (i + 1) * H * W * 3), H, W);
    c.title = `held-out image ${i}${site.images.labels ? `, class ${site.images.labels[i]}` : ''}`;
    c.onclick = () => void show(i, seed);
    thumbs.append(c);
  }
  const upload = el('input', { type: 'file', accept: 'image/*', id: 'upload' });
  upload.onchange = () => {
    const file = upload.files?.[0];
    if (file) void useImage(file).catch(showError);
  };
  const useImage = async (file: File): Promise<void> => {
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch (err) {
      throw new Error(
        `${file.name}: not an image the browser can read (${(err as Error).message})`,
        {
          cause: err,
        },
      );
    }
    const canvas = el('canvas', { width: W, height: H });
    const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
    const side = Math.min(bitmap.width, bitmap.height); // centre square, resized to the data's size
    ctx.drawImage(
      bitmap,
      (bitmap.width - side) / 2,
      (bitmap.height - side) / 2,
      side,
      side,
      0,
      0,
      W,
      H,
    );
    const rgba = ctx.getImageData(0, 0, W, H).data;
    custom = Float32Array.from(
      { length: H * W * 3 },
      (_, k) => (rgba[4 * Math.floor(k / 3) + (k % 3)] as number) / 255,
    );
    uploads++;
    await show(-1, seed);
  };
  const loadNote = el('span', { id: 'load-status', class: 'muted' });
  const showError = (err: Error): void => {
    loadNote.className = 'error';
    loadNote.textContent = `error: ${err.message}`;
  };
  // an exported backbone (and its teacher) picked from files: shown after the runs
  const pickBackbone = el('input', {
    type: 'file',
    multiple: '',
    accept: '.safetensors,.json,.bin',
    id: 'pick-backbone',
  });
  const pickTeacher = el('input', {
    type: 'file',
    multiple: '',
    accept: '.safetensors,.json,.bin',
    id: 'pick-teacher',
  });
  const addModel = el('button', { id: 'add-model' }, 'show it');
  const addBackbone = async (own: File[], teacherFiles: File[]): Promise<void> => {
    loadNote.className = 'muted';
    loadNote.textContent = 'loading…';
    const id = site.runs.length;
    const a = await backboneFromFiles(own, `run${id}_backbone`);
    let t: ImportedBackbone | undefined;
    try {
      t = teacherFiles.length
        ? await backboneFromFiles(teacherFiles, `run${id}_teacher`)
        : undefined;
    } catch (err) {
      a.model.dispose();
      throw err;
    }
    const label = (f: File[]) =>
      (f.find((x) => /\.(json|safetensors)$/i.test(x.name))?.name ?? 'model').replace(
        /\.safetensors$/i,
        '',
      );
    const weights = (m: ImportedBackbone, f: File[]) => ({
      url: '',
      count: m.model.weights.length,
      backbone: m.backbone,
      checkpoint: f.map((x) => x.name).join(', '),
    });
    const run: ViewerRun = {
      id,
      label: label(own),
      dir: own.map((x) => x.name).join(', '),
      name: label(own),
      model: { format: a.format },
      imageSize: size,
      regionLosses: [],
      byolWeight: 0,
      backbone: weights(a, own),
      log: [],
      ...(t ? { teacher: { ...weights(t, teacherFiles), label: label(teacherFiles) } } : {}),
    };
    site.runs.push(run);
    models.push({ own: a.model, teacher: t?.model });
    trainer.addRun(run, id);
    loadNote.textContent = `showing ${run.label} (${a.format === 'tfjs' ? 'TF.js Layers model' : 'torchvision state dict'}, ${describeBackbone(a.backbone)})${t ? ` paired by ${label(teacherFiles)}` : ', paired by itself'}`;
    await show(image, seed);
  };
  addModel.onclick = () => {
    hook.lastLoad = addBackbone(
      Array.from(pickBackbone.files ?? []),
      Array.from(pickTeacher.files ?? []),
    ).catch(showError);
  };
  // drop an image to see its views, or an exported backbone's files to show it
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    const files = Array.from(e.dataTransfer?.files ?? []);
    const picture = files.find((f) => f.type.startsWith('image/'));
    if (picture) hook.lastLoad = useImage(picture).catch(showError);
    else if (files.some(isModelFile))
      hook.lastLoad = addBackbone(files.filter(isModelFile), []).catch(showError);
    else
      showError(
        new Error(`${files.map((f) => f.name).join(', ')}: expected an image, or ${MODEL_FILES}`),
      );
  });
  const seedInput = el('input', {
    type: 'number',
    min: '0',
    value: String(seed),
    style: 'width:5em',
  });
  seedInput.onchange = () =>
    void show(image, Math.max(0, Math.floor(Number(seedInput.value)) || 0));
  const next = el('button', {}, 'new views');
  next.onclick = () => void show(image, seed + 1);
  const all = el('input', { type: 'checkbox', id: 'all-pairs' });
  all.onchange = () => {
    allPairs = all.checked;
    drawRuns();
  };
  const heat = el('select', { id: 'heat-from' });
  heat.append(
    el('option', { value: 'own' }, "each run's backbone"),
    el('option', { value: 'pairing' }, 'the pairing backbone (teacher)'),
  );
  heat.onchange = () => {
    heatFrom = heat.value as 'own' | 'pairing';
    drawRuns();
  };
  controls.append(
    el('h2', {}, 'Image'),
    thumbs,
    el(
      'p',
      {},
      'or your own image (pick it, or drop it on the page): ',
      upload,
      ' · views seed ',
      seedInput,
      ' ',
      next,
      ' · ',
      el('label', {}, all, ' all pairs'),
      ' · similarity map from ',
      heat,
    ),
    el(
      'p',
      {},
      'an exported backbone: ',
      pickBackbone,
      ' paired by the teacher ',
      pickTeacher,
      ' ',
      addModel,
      ' ',
      loadNote,
    ),
    el(
      'p',
      { class: 'muted' },
      `(model.json + weights.bin of 'ediy export', or a torchvision .safetensors of 'ediy export --format torchvision'; without a teacher it pairs its own regions)`,
    ),
  );

  const sourceBox = document.getElementById('source') as HTMLElement;
  const runsBox = document.getElementById('runs') as HTMLElement;

  function drawSource(focus?: { view: number; region: number }): void {
    if (!views) return;
    const src =
      custom && image < 0 ? custom : pixels.subarray(image * H * W * 3, (image + 1) * H * W * 3);
    const scale = DISPLAY / Math.max(H, W);
    const s = svg('svg', { width: W * scale, height: H * scale, class: 'source' });
    s.append(
      svg('image', { href: toCanvas(src, H, W).toDataURL(), width: W * scale, height: H * scale }),
    );
    const grid = runViews[0]?.own[0];
    views.boxes.forEach((b, v) => {
      s.append(
        svg('rect', {
          x: b.x0 * scale,
          y: b.y0 * scale,
          width: (b.x1 - b.x0) * scale,
          height: (b.y1 - b.y0) * scale,
          fill: 'none',
          stroke: COLOURS[v] as string,
          'stroke-width': 3,
          'data-box': v,
        }),
      );
      if (!grid) return;
      const centres = regionCentres(b, views!.flipped[v] as boolean, grid.h, grid.w);
      for (let n = 0; n < grid.h * grid.w; n++) {
        const picked = focus?.view === v && focus.region === n;
        s.append(
          svg('circle', {
            cx: (centres[2 * n + 1] as number) * scale,
            cy: (centres[2 * n] as number) * scale,
            r: picked ? 6 : 2.5,
            fill: COLOURS[v] as string,
            stroke: picked ? '#fff' : 'none',
          }),
        );
      }
    });
    // the focused region's partners, where they lie in the image: R-IEM should land on the
    // same object, R-DEM elsewhere (pairs of the first run with a teacher, else the first run)
    const shown = runViews.find((rv) => rv.run.teacher) ?? runViews[0];
    let partnersNote = '';
    if (grid && focus && shown) {
      const at = (v: number, n: number): [number, number] => {
        const c = regionCentres(views!.boxes[v]!, views!.flipped[v]!, grid.h, grid.w);
        return [(c[2 * n + 1] as number) * scale, (c[2 * n] as number) * scale];
      };
      const [qx, qy] = at(focus.view, focus.region);
      const d = shown.pairs.rDem[focus.view]?.[focus.region] as number;
      const t = shown.pairs.rIem[focus.view]?.[focus.region] as number;
      const [dx, dy] = at(focus.view, d);
      const [tx, ty] = at(1 - focus.view, t);
      s.append(
        svg('line', {
          x1: qx,
          y1: qy,
          x2: dx,
          y2: dy,
          class: 'r-dem',
          'data-source-kind': 'r-dem',
        }),
        svg('line', {
          x1: qx,
          y1: qy,
          x2: tx,
          y2: ty,
          class: 'r-iem',
          'data-source-kind': 'r-iem',
        }),
      );
      partnersNote = ` · lines: the ${shown.run.label} pairs of view ${focus.view + 1}, region ${focus.region}, in the image`;
    }
    const flip = (v: number) => (views!.flipped[v] ? ', mirrored' : '');
    sourceBox.replaceChildren(
      el('h2', {}, image < 0 ? 'Your image' : `Held-out image ${image}`),
      s,
      el(
        'p',
        { class: 'legend' },
        el(
          'span',
          {},
          el('span', { class: 'swatch', style: `background:${COLOURS[0]}` }),
          `view 1 crop${flip(0)}`,
        ),
        el(
          'span',
          {},
          el('span', { class: 'swatch', style: `background:${COLOURS[1]}` }),
          `view 2 crop${flip(1)}`,
        ),
        el(
          'span',
          { class: 'muted' },
          `dots: where each region of each view comes from${partnersNote}`,
        ),
      ),
    );
  }

  function drawRuns(hover?: { view: number; region: number }): void {
    if (!views) return;
    const focus = hover ?? pinned;
    const viewImages = views.pixels.map((p) => {
      const [, s1, s2] = p.shape;
      return toCanvas(p.dataSync() as Float32Array, s1, s2).toDataURL();
    });
    runsBox.replaceChildren(...runViews.map((rv) => drawRun(rv, viewImages, focus)));
    drawSource(focus);
  }

  function drawRun(
    rv: RunView,
    images: string[],
    focus?: { view: number; region: number },
  ): HTMLElement {
    const { h, w } = rv.own[0];
    const cellW = DISPLAY / w;
    const cellH = DISPLAY / h;
    const ox = (v: number) => v * (DISPLAY + GAP);
    const centre = (v: number, n: number): [number, number] => [
      ox(v) + ((n % w) + 0.5) * cellW,
      (Math.floor(n / w) + 0.5) * cellH,
    ];
    const s = svg('svg', { width: 2 * DISPLAY + GAP, height: DISPLAY + 4, 'data-run': rv.run.id });
    const sims = focus
      ? regionSimilarities(heatFrom === 'own' ? rv.own : rv.pairing, focus.view, focus.region)
      : undefined;
    for (const v of [0, 1]) {
      s.append(
        svg('image', {
          href: images[v] as string,
          x: ox(v),
          y: 0,
          width: DISPLAY,
          height: DISPLAY,
        }),
      );
      for (let n = 0; n < h * w; n++) {
        const rect = svg('rect', {
          x: ox(v) + (n % w) * cellW,
          y: Math.floor(n / w) * cellH,
          width: cellW,
          height: cellH,
          class: `region${focus?.view === v && focus.region === n ? ' selected' : ''}`,
          'data-view': v,
          'data-region': n,
        });
        const sim = sims?.[v]?.[n];
        if (sim !== undefined) {
          rect.style.fill = heatColour(sim);
          rect.append(svg('title', {}, `view ${v + 1}, region ${n}: cosine ${sim.toFixed(3)}`));
        }
        rect.onmouseenter = () => {
          if (hovered?.view === v && hovered.region === n) return;
          hovered = { view: v, region: n };
          drawRuns(hovered);
        };
        rect.onclick = () => {
          pinned = { view: v, region: n };
          hovered = undefined;
          drawRuns();
        };
        s.append(rect);
      }
    }
    s.onmouseleave = () => {
      if (!s.isConnected || !hovered) return;
      hovered = undefined;
      drawRuns();
    };
    const lines = svg('g', { class: 'pairs' });
    for (const v of [0, 1]) {
      for (let n = 0; n < h * w; n++) {
        if (!allPairs && !(focus?.view === v && focus.region === n)) continue;
        const d = rv.pairs.rDem[v]?.[n] as number;
        const [x1, y1] = centre(v, n);
        const [x2, y2] = centre(v, d);
        const bend = 0.25 * Math.hypot(x2 - x1, y2 - y1);
        lines.append(
          svg('path', {
            d: `M${x1},${y1} Q${(x1 + x2) / 2 + bend},${(y1 + y2) / 2 - bend} ${x2},${y2}`,
            class: 'r-dem',
            'data-kind': 'r-dem',
            'data-view': v,
            'data-from': n,
            'data-to': d,
          }),
        );
        const t = rv.pairs.rIem[v]?.[n] as number;
        const [x3, y3] = centre(1 - v, t);
        lines.append(
          svg('line', {
            x1,
            y1,
            x2: x3,
            y2: y3,
            class: 'r-iem',
            'data-kind': 'r-iem',
            'data-view': v,
            'data-from': n,
            'data-to': t,
          }),
        );
      }
    }
    s.append(lines);
    const pairing = rv.run.teacher
      ? `pairs chosen by the frozen teacher ${rv.run.teacher.label}${rv.run.teacher.step === undefined ? '' : ` (step ${rv.run.teacher.step})`}`
      : `pairs chosen by its own backbone (${rv.run.teacherNote ?? (rv.run.model ? 'no teacher given' : 'the run has no teacher')})`;
    const method = rv.run.model
      ? `an exported backbone (${rv.run.model.format === 'tfjs' ? 'TF.js Layers model' : 'torchvision state dict'}, ${describeBackbone(rv.run.backbone.backbone)}): ${rv.run.dir}`
      : rv.run.regionLosses.length
        ? rv.run.regionLosses.map((t) => `${t.weight}·${t.loss} (${t.matcher})`).join(' + ') +
          ` + ${rv.run.byolWeight}·BYOL`
        : `${rv.run.byolWeight}·BYOL`;
    let detail = '';
    if (focus) {
      const cosAt = (maps: [HostRegionMap, HostRegionMap], view: number, n: number) =>
        regionSimilarities(maps, focus.view, focus.region)[view]?.[n] ?? NaN;
      const d = rv.pairs.rDem[focus.view]?.[focus.region] as number;
      const t = rv.pairs.rIem[focus.view]?.[focus.region] as number;
      detail = `view ${focus.view + 1}, region ${focus.region}: R-DEM partner ${d} (teacher cosine ${cosAt(rv.pairing, focus.view, d).toFixed(3)}, this run ${cosAt(rv.own, focus.view, d).toFixed(3)}); R-IEM partner ${t} in view ${2 - focus.view} (teacher ${cosAt(rv.pairing, 1 - focus.view, t).toFixed(3)}, this run ${cosAt(rv.own, 1 - focus.view, t).toFixed(3)})`;
    }
    return el(
      'div',
      { class: 'run', 'data-run': rv.run.id },
      el(
        'h2',
        {},
        `${rv.run.label} `,
        el(
          'span',
          { class: 'muted' },
          rv.run.backbone.step === undefined ? 'exported' : `step ${rv.run.backbone.step}`,
        ),
      ),
      el('div', { class: 'muted' }, method),
      el('div', { class: 'muted' }, pairing),
      s,
      el('div', { class: 'muted' }, `view 1 · view 2 (${h}x${w} regions each)`),
      el('div', { class: 'detail' }, detail),
      el(
        'div',
        { class: 'saliency' },
        ...(rv.saliency ? [saliencyCanvas(rv.saliency)] : []),
        el(
          'span',
          { class: 'muted' },
          rv.saliency
            ? ' Grad-CAM of this backbone on the whole image (as Fig. 1 of the paper)'
            : 'Grad-CAM of this backbone: computing…',
        ),
      ),
      el(
        'div',
        {},
        `region diversity on these views: mean region cosine ${rv.diversity.meanRegionCosine.toFixed(3)}, effective rank ${rv.diversity.effectiveRank.toFixed(2)}`,
      ),
    );
  }

  function saliencyCanvas(rgba: Uint8Array): HTMLCanvasElement {
    const c = el('canvas', {
      width: W,
      height: H,
      style: `width:${DISPLAY / 2}px;image-rendering:pixelated;vertical-align:middle`,
    });
    const ctx = c.getContext('2d') as CanvasRenderingContext2D;
    ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba), W, H), 0, 0);
    return c;
  }

  async function show(index: number, newSeed: number): Promise<void> {
    image = index;
    seed = newSeed;
    seedInput.value = String(seed);
    thumbs.querySelectorAll('canvas').forEach((c, i) => c.classList.toggle('picked', i === index));
    if (views) disposeViews(views);
    const src =
      index < 0 && custom ? custom : pixels.slice(index * H * W * 3, (index + 1) * H * W * 3);
    const input = tf.tensor4d(src, [1, H, W, 3]);
    try {
      views = drawViews(input, seed, size);
    } finally {
      input.dispose();
    }
    const mean = IMAGENET_NORMALIZE.mean;
    const std = IMAGENET_NORMALIZE.std;
    const normalised = src.map((v, k) => (v - (mean[k % 3] as number)) / (std[k % 3] as number));
    const shown = ++shows;
    const computed = site.runs.map((run, i) => {
      const m = models[i] as (typeof models)[number];
      const ownT = regionMapTensors(m.own, views!);
      const pairT = m.teacher ? regionMapTensors(m.teacher, views!) : ownT;
      try {
        const own = [toHostMap(ownT[0]), toHostMap(ownT[1])] as [HostRegionMap, HostRegionMap];
        const pairing = m.teacher
          ? ([toHostMap(pairT[0]), toHostMap(pairT[1])] as [HostRegionMap, HostRegionMap])
          : own;
        return { run, own, pairing, pairs: regionPairs(pairT), both: tf.concat(ownT, 0) };
      } finally {
        tf.dispose(m.teacher ? [...ownT, ...pairT] : ownT);
      }
    });
    // the region metrics read asynchronously (every backend, webgpu included)
    const diversities = await Promise.all(
      computed.map(({ both }) => regionDiversityAsync(both).finally(() => both.dispose())),
    );
    // a later show() started while these were read: its views are the ones on screen
    if (shown !== shows) return;
    runViews = computed.map(({ both: _both, ...rv }, i) => ({
      ...rv,
      diversity: diversities[i] as RunView['diversity'],
    }));
    const n = (runViews[0]?.own[0].h ?? 1) * (runViews[0]?.own[0].w ?? 1);
    if (pinned && pinned.region >= n) pinned = { view: 0, region: 0 };
    drawRuns();
    // Grad-CAM (a backward pass per run) after the pairs are on screen; one per image
    const key = index < 0 ? -1 - uploads : index;
    const drawnFor = runViews;
    for (const [i, rv] of drawnFor.entries()) {
      await tf.nextFrame();
      const cached = saliencyCache.get(`${key}/${i}`);
      if (cached) {
        rv.saliency = cached;
        continue;
      }
      const heat = await saliencyMapsAsync(
        fromLayersModel((models[i] as (typeof models)[number]).own),
        { data: normalised, shape: [1, H, W, 3] },
        { method: 'gradcam' },
      );
      rv.saliency = overlayHeatmap(
        { data: src, shape: [H, W, 3] },
        { data: heat.data, shape: [H, W] },
      );
      saliencyCache.set(`${key}/${i}`, rv.saliency);
    }
    if (runViews === drawnFor) drawRuns();
  }

  hook.show = show;
  hook.setAllPairs = (on: boolean) => {
    all.checked = on;
    allPairs = on;
    drawRuns();
  };
  hook.state = () => ({
    backend,
    imageIndex: image,
    seed,
    boxes: views!.boxes,
    flipped: views!.flipped,
    views: [Array.from(views!.pixels[0].dataSync()), Array.from(views!.pixels[1].dataSync())],
    grid: { h: runViews[0]?.own[0].h ?? 0, w: runViews[0]?.own[0].w ?? 0 },
    image: Array.from(
      image < 0 && custom ? custom : pixels.subarray(image * H * W * 3, (image + 1) * H * W * 3),
    ),
    runs: site.runs.map((r) => r.label),
  });

  hook.train = trainer.train;
  drawCurves(site);
  drawMetrics(site);
  await show(0, seed);
}

/**
 * The "train N steps" control: E-DIY steps ({@link PageTrainer}) on the held-out images as
 * one batch, on the page's backend, starting from a run's backbone with its teacher's
 * pairs (or a fresh network paired by a frozen copy of itself), the loss plotted per step.
 */
function trainControl(
  site: ViewerSite,
  backend: string,
  pixels: Float32Array,
  models: Array<{ own: LayersModel; teacher?: LayersModel | undefined }>,
): {
  train: (request: TrainRequest) => Promise<PageStep[]>;
  addRun(run: ViewerRun, i: number): void;
} {
  const box = document.getElementById('train') as HTMLElement;
  const [N, H, W] = site.images.shape;
  const first = site.runs[0];
  const from = el('select', { id: 'train-from' });
  const option = (r: ViewerRun, i: number) =>
    el(
      'option',
      { value: String(i) },
      `${r.label}'s backbone${r.teacher ? `, pairs by its teacher ${r.teacher.label}` : ', pairs by a frozen copy of it'}`,
    );
  site.runs.forEach((r, i) => from.append(option(r, i)));
  const fresh = el('option', { value: '-1' }, 'a fresh network (pairs by a frozen copy of it)');
  from.append(fresh);
  const stepsInput = el('input', {
    id: 'train-steps',
    type: 'number',
    min: '1',
    max: '50',
    value: '5',
    style: 'width:4em',
  });
  const lrInput = el('input', {
    id: 'train-lr',
    type: 'number',
    min: '0',
    step: '0.1',
    value: '0.5',
    style: 'width:5em',
  });
  const button = el('button', { id: 'train-run' }, 'train');
  const chart = el('div', { id: 'train-chart', class: 'charts' });
  const note = el('p', { id: 'train-status', class: 'muted' });
  box.replaceChildren(
    el('h2', {}, 'Train E-DIY here'),
    el(
      'p',
      { class: 'muted' },
      `Eq. 3 (BYOL + R-DEM + R-IEM with the teacher's pairs), LARS and the EMA target, on the ${N} held-out images as one batch, on tfjs ${backend}. The BYOL heads start fresh; the run's files are not changed.`,
    ),
    el(
      'p',
      {},
      'start from ',
      from,
      ' · ',
      stepsInput,
      ' steps at learning rate ',
      lrInput,
      ' ',
      button,
    ),
    note,
    chart,
  );
  let busy = false;
  const train = async (request: TrainRequest): Promise<PageStep[]> => {
    const { steps, learningRate } = request;
    if (!Number.isInteger(steps) || steps < 1 || steps > 1000)
      throw new RangeError(`steps must be an integer in [1, 1000], got ${String(steps)}`);
    if (!first) throw new Error('no run to take the architecture and view size from');
    if (N < 2) throw new Error(`training needs a batch of at least 2 images, the site has ${N}`);
    if (busy) throw new Error('a training run is already going on');
    const start = request.from >= 0 ? models[request.from] : undefined;
    if (request.from >= 0 && !start)
      throw new RangeError(
        `from must be -1 or a run index below ${models.length}, got ${request.from}`,
      );
    const run = request.from >= 0 ? (site.runs[request.from] as ViewerRun) : first;
    busy = true;
    button.disabled = true;
    note.className = 'muted';
    const trainer = new PageTrainer({
      backbone: run.backbone.backbone,
      imageSize: run.imageSize,
      learningRate,
      ...(start ? { initFrom: start.own } : {}),
      ...(start?.teacher ? { teacher: start.teacher } : {}),
    });
    const images = tf.tensor4d(pixels.slice(0, N * H * W * 3), [N, H, W, 3]);
    const done: PageStep[] = [];
    try {
      for (let k = 0; k < steps; k++) {
        done.push(await trainer.stepOn(images));
        const last = done.at(-1) as PageStep;
        note.textContent = `step ${k + 1}/${steps}: loss ${last.loss.toFixed(4)} (BYOL ${last.terms.byol.toFixed(3)}, R-DEM ${last.terms['r-dem'].toFixed(3)}, R-IEM ${last.terms['r-iem'].toFixed(3)}), ${last.ms.toFixed(0)} ms`;
        const series = (['byol', 'r-dem', 'r-iem'] as const).map((t, i) => ({
          name: t,
          colour: COLOURS[(i + 1) % COLOURS.length] as string,
          points: done.map((s) => [s.step + 1, s.terms[t]] as [number, number]),
        }));
        chart.replaceChildren(
          lineChart('loss per step (Eq. 3), trained here', [
            {
              name: 'train-loss',
              colour: COLOURS[0] as string,
              points: done.map((s) => [s.step + 1, s.loss]),
            },
          ]),
          lineChart('terms before weighting, trained here', series),
        );
        await tf.nextFrame();
      }
      const ms = done.reduce((a, s) => a + s.ms, 0) / done.length;
      note.textContent = `${steps} steps from ${request.from >= 0 ? `${run.label}'s backbone` : 'a fresh network'} on tfjs ${backend}: loss ${done[0]?.loss.toFixed(4)} -> ${done.at(-1)?.loss.toFixed(4)}, ${ms.toFixed(0)} ms a step`;
      return done;
    } finally {
      images.dispose();
      trainer.dispose();
      busy = false;
      button.disabled = false;
    }
  };
  button.onclick = () => {
    train({
      steps: Math.floor(Number(stepsInput.value)),
      learningRate: Number(lrInput.value),
      from: Number(from.value),
    })
      .then((steps) => {
        hook.lastTrain = steps;
      })
      .catch((err: Error) => {
        note.className = 'error';
        note.textContent = `error: ${err.message}`;
      });
  };
  return { train, addRun: (r, i) => from.insertBefore(option(r, i), fresh) };
}

function describeBackbone(b: ViewerRun['backbone']['backbone']): string {
  return `ResNet-${b.depth}, ${b.stem} stem, width ${b.widthMultiplier}`;
}

function drawCurves(site: ViewerSite): void {
  const box = document.getElementById('curves') as HTMLElement;
  const withLog = site.runs.filter((r) => r.log.length > 0);
  if (withLog.length === 0) {
    box.replaceChildren(
      el('h2', {}, 'Loss'),
      el('p', { class: 'muted' }, 'no log.jsonl in these runs'),
    );
    return;
  }
  const charts = el('div', { class: 'charts' });
  charts.append(
    lineChart(
      'total loss (Eq. 3)',
      withLog.map((r, i) => ({
        name: r.label,
        colour: COLOURS[i % COLOURS.length] as string,
        points: r.log.map((p) => [p.step, p.loss] as [number, number]),
      })),
    ),
  );
  for (const r of withLog) {
    const terms = [...new Set(r.log.flatMap((p) => Object.keys(p.terms)))];
    if (terms.length < 2) continue;
    charts.append(
      lineChart(
        `${r.label}: terms before weighting`,
        terms.map((t, i) => ({
          name: t,
          colour: COLOURS[i % COLOURS.length] as string,
          points: r.log
            .filter((p) => t in p.terms)
            .map((p) => [p.step, p.terms[t] as number] as [number, number]),
        })),
      ),
    );
  }
  box.replaceChildren(el('h2', {}, 'Loss (log.jsonl)'), charts);
}

function drawMetrics(site: ViewerSite): void {
  const box = document.getElementById('metrics') as HTMLElement;
  const keys = [...new Set(site.runs.flatMap((r) => Object.keys(r.eval?.metrics ?? {})))];
  if (keys.length === 0) {
    box.replaceChildren(
      el('h2', {}, 'Evaluation'),
      el('p', { class: 'muted' }, 'no eval.json in these runs (ediy eval <run> writes it)'),
    );
    return;
  }
  const table = el('table', { id: 'eval-table' });
  table.append(
    el('tr', {}, el('th', {}, 'metric'), ...site.runs.map((r) => el('th', {}, r.label))),
  );
  for (const k of keys) {
    table.append(
      el(
        'tr',
        {},
        el('td', {}, k),
        ...site.runs.map((r) => {
          const v = r.eval?.metrics[k];
          return el('td', {}, v === undefined ? '–' : Number(v.toPrecision(4)).toString());
        }),
      ),
    );
  }
  box.replaceChildren(el('h2', {}, 'Evaluation (eval.json)'), table);
}

hook.ready = main().catch((err: Error) => {
  status.className = 'error';
  status.textContent = `error: ${err.message}`;
  throw err;
});
