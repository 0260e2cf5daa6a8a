/**
 * `ediy view <run...> [--backbone <model> [--teacher <model>]]`: serves a page on localhost
 * that shows what the runs match: for a held-out image (or an uploaded one) BYOL's two
 * views with their crop boxes, each view's region grid, the teacher's R-DEM and R-IEM
 * partners, per-region similarity maps, the runs side by side, their loss curves and
 * evaluations (`@ediy/viewer`). An exported backbone (`ediy export`'s TF.js Layers
 * directory or torchvision safetensors) is shown beside them, paired by its teacher.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringFlag, type CommandSpec, type ParsedArgs } from '../args.js';
import { UsageError } from '../errors.js';
import { heldOutImages } from '@ediy/eval/node';
import { println, type CliIO } from '../io.js';
import { DATA_FLAG, dataFlag, integerFlag } from '../options.js';
import { initBackend } from '@ediy/backend';
import { presetScale } from '@ediy/trainer';
import { buildSite, extractBackbone, serveSite, writeSite } from '@ediy/viewer/node';

/** The `view` command. */
export const VIEW_SPEC: CommandSpec = {
  name: 'view',
  summary:
    "Serve a page that shows what the runs match: two views of a held-out image, their region grids, the teacher's R-DEM and R-IEM partners, similarity maps, loss curves and evaluations, runs side by side.",
  positionals: '[run...]',
  arity: { min: 0, max: Infinity },
  flags: {
    backbone: {
      type: 'string',
      value: 'model',
      description:
        "an exported backbone to show after the runs: a TF.js Layers model directory ('ediy export') or a torchvision .safetensors ('ediy export --format torchvision')",
    },
    teacher: {
      type: 'string',
      value: 'model',
      description:
        "the frozen teacher that pairs --backbone's regions, in either format (default: the backbone itself)",
    },
    'image-size': {
      type: 'string',
      value: 'px',
      description:
        "side of --backbone's views (default: the first run's, else 32 for a small stem, 224 for an imagenet one)",
    },
    port: {
      type: 'string',
      value: 'n',
      description: 'port on 127.0.0.1 (0: any free port)',
      defaultText: '8765',
    },
    host: {
      type: 'string',
      value: 'address',
      description: 'address to listen on',
      defaultText: '127.0.0.1',
    },
    out: {
      type: 'string',
      value: 'dir',
      description:
        'write the page and its files to <dir> (for any static file server) instead of serving them',
    },
    labels: {
      type: 'string',
      value: 'list',
      description: 'run labels, one per run, comma-separated (default: the run folder names)',
    },
    count: {
      type: 'string',
      value: 'n',
      description: 'held-out images to pick from',
      defaultText: '16',
    },
    seed: {
      type: 'string',
      value: 'n',
      description: 'seed of the first pair of views',
      defaultText: '0',
    },
    data: {
      ...DATA_FLAG,
      description:
        "images: 'scenes' or a path; default the first run's data (its held-out part), or the mini preset's scenes without a run",
      defaultText: undefined,
    },
  },
  details: `The page runs the runs' backbones in the browser (tfjs webgl, else cpu). Stop the server with Ctrl-C.
Examples:
  ediy view runs/table1-byol/seed-0 runs/table1-ediy/seed-0
  ediy view --backbone models/ediy-r18 --teacher models/byol-r18.safetensors`,
};

/** Runs `ediy view`; serving, it resolves when Ctrl-C (or `signal`) stops the server. */
export async function viewCommand(
  args: ParsedArgs,
  io: CliIO,
  signal?: AbortSignal,
): Promise<number> {
  const cmd = 'view';
  const runs = args.positionals.map((p) => resolve(p));
  runs.forEach((run, i) => {
    if (!existsSync(run))
      throw new UsageError(
        `ediy ${cmd}: ${JSON.stringify(args.positionals[i])} not found; expected a run folder`,
        cmd,
      );
  });
  const backbone = stringFlag(args, 'backbone');
  const teacher = stringFlag(args, 'teacher');
  if (runs.length === 0 && backbone === undefined)
    throw new UsageError(
      `ediy ${cmd}: expected a run folder or --backbone <model> (a TF.js Layers directory or a torchvision .safetensors)`,
      cmd,
    );
  if (teacher !== undefined && backbone === undefined)
    throw new UsageError(
      `ediy ${cmd}: --teacher pairs the regions of --backbone; give --backbone <model> too`,
      cmd,
    );
  const imageSize = integerFlag(args, 'image-size', cmd, 8);
  const labels = stringFlag(args, 'labels')?.split(',');
  if (labels && labels.length !== runs.length)
    throw new UsageError(
      `ediy ${cmd}: --labels has ${labels.length} labels for ${runs.length} runs; expected one per run`,
      cmd,
    );
  const port = integerFlag(args, 'port', cmd, 0) ?? 8765;
  if (port > 65535)
    throw new UsageError(`ediy ${cmd}: --port must be at most 65535, got ${port}`, cmd);
  const count = integerFlag(args, 'count', cmd, 1) ?? 16;
  const seed = integerFlag(args, 'seed', cmd, 0) ?? 0;
  const data =
    dataFlag(args, cmd) ??
    (runs[0] ? extractBackbone(runs[0]).config.scale.data : presetScale('mini').data);
  const held = await heldOutImages(data, count);
  const [n, h, w] = held.raw.shape as [number, number, number, number];
  const source = data.kind === 'path' ? data.path : `${data.kind} (held-out part)`;
  // reading an exported model builds a ResNet in tfjs: wasm does (and prints no banner)
  if (backbone !== undefined) await initBackend({ prefer: 'wasm' });
  const site = await buildSite({
    runs,
    ...(labels ? { labels } : {}),
    ...(backbone === undefined
      ? {}
      : {
          models: [
            {
              backbone: resolve(backbone),
              ...(teacher === undefined ? {} : { teacher: resolve(teacher) }),
              ...(imageSize === undefined ? {} : { imageSize }),
            },
          ],
        }),
    images: {
      data: Float32Array.from(held.raw.data),
      shape: [n, h, w, 3],
      labels: held.labels,
      source,
    },
    seed,
  });
  const out = stringFlag(args, 'out');
  if (out !== undefined) {
    const files = writeSite(site, resolve(out));
    println(
      io.stderr,
      `ediy: wrote the viewer (${files.length} files); serve ${out} with any static file server`,
    );
    println(io.stdout, resolve(out));
    return 0;
  }
  const server = await serveSite(site, { port, host: stringFlag(args, 'host') ?? '127.0.0.1' });
  println(
    io.stderr,
    `ediy: viewing ${runs.length} run(s)${backbone === undefined ? '' : ' and an exported backbone'}; open this in a browser (Ctrl-C stops):`,
  );
  println(io.stdout, server.url);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      signal?.removeEventListener('abort', stop);
      done();
    };
    if (signal?.aborted) return stop();
    signal?.addEventListener('abort', stop, { once: true });
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
