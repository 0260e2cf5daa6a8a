/**
 * `ediy saliency <run...> --out <file.png>`: a Fig. 1-style grid of Grad-CAM saliency
 * maps: one row per held-out image, the image and then one column per run.
 */
import { basename, dirname, resolve } from 'node:path';
import { isRunDir, runPaths } from '@ediy/core/node';
import { stringFlag, type CommandSpec, type ParsedArgs } from '../args.js';
import { setupBackend } from '../backend.js';
import { UsageError } from '../errors.js';
import { println, type CliIO } from '../io.js';
import {
  BACKEND_FLAG,
  DATA_FLAG,
  backendFlag,
  dataFlag,
  integerFlag,
  requiredString,
} from '../options.js';
import { drawSaliencyGrid } from '../reproduce.js';

/** The `saliency` command. */
export const SALIENCY_SPEC: CommandSpec = {
  name: 'saliency',
  summary:
    "Draw a saliency grid (Grad-CAM of each run's online backbone, as Fig. 1 of the paper): one row per held-out image: the image, then one column per run, and a colour bar.",
  positionals: '<run...>',
  arity: { min: 1, max: Infinity },
  flags: {
    out: { type: 'string', value: 'file.png', description: 'PNG to write' },
    count: { type: 'string', value: 'n', description: 'images (grid rows)', defaultText: '6' },
    labels: {
      type: 'string',
      value: 'list',
      description: 'column labels, one per run, comma-separated (default: the run folder names)',
    },
    data: {
      ...DATA_FLAG,
      description: "images: 'scenes' or a path; default the first run's data (its test split)",
      defaultText: undefined,
    },
    backend: BACKEND_FLAG,
  },
  details: `Example:
  ediy saliency runs/table1-byol/seed-0 runs/table1-ediy/seed-0 --labels BYOL,E-DIY --out saliency.png`,
};

/** A run folder's label: `table1-ediy` for `runs/table1-ediy/seed-0`. */
function runLabel(run: string): string {
  const name = basename(run);
  return /^seed-\d+$/.test(name) ? basename(dirname(run)) : name;
}

/** Runs `ediy saliency`. */
export async function saliencyCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const cmd = 'saliency';
  const out = resolve(requiredString(args, 'out', cmd, 'file.png'));
  if (!out.toLowerCase().endsWith('.png'))
    throw new UsageError(
      `ediy ${cmd}: --out must name a .png file; got ${JSON.stringify(stringFlag(args, 'out'))}`,
      cmd,
    );
  const count = integerFlag(args, 'count', cmd, 1) ?? 6;
  const data = dataFlag(args, cmd);
  const runs = args.positionals.map((p) => resolve(p));
  runs.forEach((run, i) => {
    if (!isRunDir(run)) {
      throw new UsageError(
        `ediy ${cmd}: ${JSON.stringify(args.positionals[i])} is not a run directory (expected ${runPaths(run).checkpoints})`,
        cmd,
      );
    }
  });
  const labels = stringFlag(args, 'labels')?.split(',');
  if (labels && labels.length !== runs.length) {
    throw new UsageError(
      `ediy ${cmd}: --labels has ${labels.length} labels for ${runs.length} runs; expected one per run`,
      cmd,
    );
  }
  await setupBackend(backendFlag(args, cmd), io);
  const { width, height } = await drawSaliencyGrid(
    runs.map((runDir, i) => ({ runDir, label: labels?.[i] ?? runLabel(runDir) })),
    out,
    data,
    count,
  );
  println(io.stderr, `ediy: saliency grid ${width}x${height}`);
  println(io.stdout, out);
  return 0;
}
