/**
 * The viewer's site: the page, its script, `site.json` and the weight and image files,
 * built once in memory from run folders, then served on localhost (`serveSite`) or
 * written to a folder any static file server can serve (`writeSite`). Node only.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { bundlePage } from './bundle.js';
import { PAGE_HTML } from './page/html.js';
import { modelLabel, readModelFile } from './model-file.js';
import { readRunFolder } from './run-folder.js';
import { SITE_PATHS, type ViewerRun, type ViewerSite } from './site.js';

/** Held-out images for the page: `[N,H,W,3]` float32 in [0, 1]. */
export interface SiteImages {
  /** Pixels, row-major. */
  data: Float32Array;
  /** `[N,H,W,3]`. */
  shape: readonly [number, number, number, number];
  /** Class labels, one per image. */
  labels?: ArrayLike<number>;
  /** Where they come from, shown on the page. */
  source: string;
}

/** An exported backbone shown beside the runs (see {@link SiteOptions.models}). */
export interface SiteModel {
  /** A TF.js Layers model directory (or its `model.json`) or a torchvision `.safetensors`. */
  backbone: string;
  /** The frozen teacher that pairs its regions, in either format (default: itself). */
  teacher?: string;
  /** Its label (default: the file name, `ediy-r18` for `models/ediy-r18.safetensors`). */
  label?: string;
  /**
   * Side of each view in pixels (default: the first run's, else 32 for a `small` stem
   * and 224 for an `imagenet` one).
   */
  imageSize?: number;
}

/** Options of {@link buildSite}. */
export interface SiteOptions {
  /** Run folders, shown side by side in this order (may be empty when `models` is not). */
  runs: readonly string[];
  /** Labels of the runs (default: the folder names, `table1-ediy` for `runs/table1-ediy/seed-0`). */
  labels?: readonly string[];
  /**
   * Exported backbones (`ediy export`'s TF.js Layers directories or torchvision
   * safetensors), each with an optional teacher, shown after the runs.
   */
  models?: readonly SiteModel[];
  /** The images to pick from. */
  images: SiteImages;
  /** Seed of the first pair of views (default 0). */
  seed?: number;
  /** Minify the script (default true). */
  minify?: boolean;
}

/** One file of the site. */
export interface SiteFile {
  /** Its bytes. */
  body: Uint8Array;
  /** Its MIME type. */
  type: string;
}

/** A built site: its files by path (relative, no leading slash) and its `site.json`. */
export interface Site {
  /** Every file, by path. */
  files: ReadonlyMap<string, SiteFile>;
  /** The document `site.json` holds. */
  site: ViewerSite;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const BINARY = 'application/octet-stream';

function checkImages(images: SiteImages): void {
  const shape = images?.shape;
  if (
    !Array.isArray(shape) ||
    shape.length !== 4 ||
    shape.some((d) => !Number.isInteger(d) || d < 1) ||
    shape[3] !== 3
  )
    throw new RangeError(
      `images.shape must be [N,H,W,3] of positive integers, got ${JSON.stringify(shape)}`,
    );
  const size = shape.reduce((a, b) => a * b, 1);
  if (!(images.data instanceof Float32Array) || images.data.length !== size)
    throw new RangeError(
      `images.data must be a Float32Array of ${size} values for shape [${shape.join(',')}], got ${images.data?.length ?? String(images.data)}`,
    );
  for (let i = 0; i < size; i++) {
    const v = images.data[i] as number;
    if (!(v >= 0 && v <= 1))
      throw new RangeError(`images.data must be in [0, 1], got ${v} at index ${i}`);
  }
  if (images.labels !== undefined && images.labels.length !== shape[0])
    throw new RangeError(
      `images.labels must have one label per image (${shape[0]}), got ${images.labels.length}`,
    );
}

/**
 * Builds the site of some run folders: reads each run (its newest checkpoint's online
 * backbone, its teacher's, `log.jsonl`, `eval.json`) and bundles the page.
 * @throws RunFolderError naming the path and what was expected when a folder is not a run.
 */
export async function buildSite(options: SiteOptions): Promise<Site> {
  const models = options.models ?? [];
  if (!Array.isArray(options.runs) || !Array.isArray(models))
    throw new TypeError('runs and models must be arrays (of run folders, of {backbone, teacher})');
  if (options.runs.length + models.length === 0)
    throw new RangeError('the viewer needs at least one run folder or exported backbone');
  if (options.labels && options.labels.length !== options.runs.length)
    throw new RangeError(
      `labels has ${options.labels.length} labels for ${options.runs.length} runs; expected one per run`,
    );
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0)
    throw new RangeError(`seed must be an integer >= 0, got ${String(seed)}`);
  checkImages(options.images);
  const files = new Map<string, SiteFile>();
  const runs: ViewerRun[] = [];
  for (const [id, dir] of options.runs.entries()) {
    const folder = readRunFolder(dir);
    const backboneUrl = `runs/${id}/backbone.safetensors`;
    files.set(backboneUrl, { body: folder.backbone, type: BINARY });
    const { teacher, ...rest } = folder.run;
    const run: ViewerRun = {
      ...rest,
      id,
      label: options.labels?.[id] ?? rest.label,
      backbone: { ...rest.backbone, url: backboneUrl },
    };
    if (teacher && folder.teacher) {
      const url = `runs/${id}/teacher.safetensors`;
      files.set(url, { body: folder.teacher, type: BINARY });
      run.teacher = { ...teacher, url };
    } else if (folder.teacherModelDir) {
      const t = await readModelFile(folder.teacherModelDir, `run${id}_teacher`);
      const url = `runs/${id}/teacher.safetensors`;
      files.set(url, { body: t.bytes, type: BINARY });
      run.teacher = {
        label: modelLabel(t.path),
        url,
        count: t.count,
        backbone: t.backbone,
        checkpoint: t.path,
      };
    }
    runs.push(run);
  }
  for (const [k, m] of models.entries()) {
    const id = runs.length;
    if (!m || typeof m.backbone !== 'string')
      throw new TypeError(
        `models[${k}] must be {backbone: <path>, teacher?: <path>}, got ${JSON.stringify(m)}`,
      );
    const own = await readModelFile(m.backbone, `run${id}_backbone`);
    const imageSize =
      m.imageSize ?? runs[0]?.imageSize ?? (own.backbone.stem === 'small' ? 32 : 224);
    if (!Number.isInteger(imageSize) || imageSize < 8)
      throw new RangeError(
        `models[${k}].imageSize must be an integer >= 8, got ${String(imageSize)}`,
      );
    const url = `runs/${id}/backbone.safetensors`;
    files.set(url, { body: own.bytes, type: BINARY });
    const run: ViewerRun = {
      id,
      label: m.label ?? modelLabel(own.path),
      dir: own.path,
      name: modelLabel(own.path),
      model: { format: own.format },
      imageSize,
      regionLosses: [],
      byolWeight: 0,
      backbone: { url, count: own.count, backbone: own.backbone, checkpoint: own.path },
      log: [],
    };
    if (m.teacher !== undefined) {
      const t = await readModelFile(m.teacher, `run${id}_teacher`);
      const tUrl = `runs/${id}/teacher.safetensors`;
      files.set(tUrl, { body: t.bytes, type: BINARY });
      run.teacher = {
        label: modelLabel(t.path),
        url: tUrl,
        count: t.count,
        backbone: t.backbone,
        checkpoint: t.path,
      };
    }
    runs.push(run);
  }
  const { data, shape, labels, source } = options.images;
  const site: ViewerSite = {
    runs,
    images: {
      url: SITE_PATHS.images,
      shape: [shape[0], shape[1], shape[2], shape[3]],
      ...(labels ? { labels: Array.from(labels) } : {}),
      source,
    },
    seed,
  };
  const pixels = new Uint8Array(
    data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
  );
  files.set(SITE_PATHS.images, { body: pixels, type: BINARY });
  files.set(SITE_PATHS.site, {
    body: new TextEncoder().encode(JSON.stringify(site)),
    type: JSON_TYPE,
  });
  files.set(SITE_PATHS.page, {
    body: new TextEncoder().encode(PAGE_HTML),
    type: 'text/html; charset=utf-8',
  });
  const script = await bundlePage({ minify: options.minify ?? true });
  files.set(SITE_PATHS.script, {
    body: new TextEncoder().encode(script),
    type: 'text/javascript; charset=utf-8',
  });
  return { files, site };
}

/**
 * The site's request handler: `GET`/`HEAD` of a file (`/` is `index.html`), 404 for any
 * other path, 405 for any other method. It reads nothing from the disk.
 */
export function siteHandler(site: Site): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end(`method ${method} not allowed; the viewer serves GET and HEAD\n`);
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname).replace(
        /^\/+/,
        '',
      );
    } catch {
      path = '\0';
    }
    const file = site.files.get(path === '' ? SITE_PATHS.page : path);
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`not found: /${path}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': file.body.byteLength,
      'cache-control': 'no-store',
    });
    res.end(method === 'HEAD' ? undefined : file.body);
  };
}

/** A running viewer server. */
export interface ViewerServer {
  /** `http://127.0.0.1:<port>/`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** Stops it (and closes open connections). */
  close(): Promise<void>;
}

/**
 * Serves a site on `host:port` (default 127.0.0.1, port 0: any free port).
 * @throws an error naming the address when the port is taken or not allowed.
 */
export async function serveSite(
  site: Site,
  options: { port?: number; host?: string } = {},
): Promise<ViewerServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new RangeError(`port must be an integer in [0, 65535], got ${String(port)}`);
  const server = createServer(siteHandler(site));
  await new Promise<void>((ok, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        new Error(`cannot listen on ${host}:${port} (${err.code ?? err.message})`, { cause: err }),
      ),
    );
    server.listen(port, host, () => ok());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/`,
    port: bound,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/**
 * Writes a site into `outDir` as plain files (`index.html`, `viewer.js`, `site.json`, ...),
 * for any static file server. Returns the paths written.
 */
export function writeSite(site: Site, outDir: string): string[] {
  const written: string[] = [];
  for (const [path, file] of site.files) {
    const target = join(outDir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.body);
    written.push(target);
  }
  return written;
}
