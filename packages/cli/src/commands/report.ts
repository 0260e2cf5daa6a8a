/**
 * `ediy report <run...>`: results.json, results.md and plots from runs trained one by
 * one (see {@link buildReport}), optionally with a saliency grid of the rows' first runs.
 */
import { existsSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { runPaths } from '@ediy/core/node';
import { booleanFlag, stringFlag, type CommandSpec, type ParsedArgs } from '../args.js';
import { describeBackend, setupBackend } from '../backend.js';
import { UsageError } from '../errors.js';
import { println, type CliIO } from '../io.js';
import { BACKEND_FLAG, backendFlag, integerFlag } from '../options.js';
import { buildReport, rowsFromRuns } from '../report.js';
import { drawSaliencyGrid } from '../reproduce.js';

/** The `report` command. */
export const REPORT_SPEC: CommandSpec = {
  name: 'report',
  summary:
    'Build results.json, results.md and plots (metric dot plot, loss curves per term) from runs trained and evaluated one by one.',
  positionals: '<run...>',
  arity: { min: 1, max: Infinity },
  flags: {
    out: { type: 'string', value: 'dir', description: 'output folder', defaultText: 'report' },
    title: { type: 'string', value: 'text', description: 'name of the table in results.md' },
    saliency: {
      type: 'boolean',
      description: "also draw a saliency grid of each row's first run (loads the backbones)",
    },
    count: {
      type: 'string',
      value: 'n',
      description: 'images in the saliency grid',
      defaultText: '6',
    },
    backend: BACKEND_FLAG,
  },
  details: `Each run needs config.json and log.jsonl (ediy pretrain) and eval.json (ediy eval).
Runs of the same config name are one row, their seeds summarised with a 95% interval
(Student's t over seeds; for one seed, the bootstrap interval its eval.json records). The
untrained floor of the first run that has one (ediy eval --untrained <run>) is the
reference row.
Example:
  ediy eval runs/byol/seed-0 runs/my-loss/seed-0
  ediy report runs/byol/seed-0 runs/my-loss/seed-0 --out my-table`,
};

/** Runs `ediy report`. */
export async function reportCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const cmd = 'report';
  const out = resolve(stringFlag(args, 'out') ?? 'report');
  const runs = args.positionals.map((p) => resolve(p));
  runs.forEach((run, i) => {
    const paths = runPaths(run);
    for (const path of [paths.config, paths.eval]) {
      if (!existsSync(path)) {
        throw new UsageError(
          `ediy ${cmd}: ${JSON.stringify(args.positionals[i])} has no ${basename(path)}; expected a run directory trained by ediy pretrain and evaluated by ediy eval`,
          cmd,
        );
      }
    }
  });
  const extraPlots: string[] = [];
  let backend: string | undefined;
  if (booleanFlag(args, 'saliency')) {
    const count = integerFlag(args, 'count', cmd, 1) ?? 6;
    backend = describeBackend(await setupBackend(backendFlag(args, cmd), io));
    const path = join(out, 'plots', 'saliency-grid.png');
    const columns = rowsFromRuns(runs).map((row) => ({
      label: row.label,
      runDir: row.runs[0]?.runDir as string,
    }));
    await drawSaliencyGrid(columns, path, undefined, count);
    extraPlots.push(path);
  }
  const title = stringFlag(args, 'title');
  const report = await buildReport({
    runs,
    out,
    extraPlots,
    ...(title !== undefined ? { title } : {}),
    ...(backend !== undefined ? { backend } : {}),
  });
  println(
    io.stderr,
    `ediy: wrote ${relative(process.cwd(), join(out, 'results.md'))} (${report.results.rows.length} rows)`,
  );
  for (const file of report.files) println(io.stdout, file);
  return 0;
}
