/**
 * `ediy reproduce <table1|table2>`: the whole table at a preset (see {@link reproduce}).
 */
import { stringFlag, type CommandSpec, type ParsedArgs } from '../args.js';
import { describeBackend, setupBackend } from '../backend.js';
import { UsageError } from '../errors.js';
import { println, type CliIO } from '../io.js';
import {
  BACKEND_FLAG,
  DATA_FLAG,
  PRESET_FLAG,
  SEEDS_FLAG,
  SEED_FLAG,
  WORKERS_FLAG,
  backendFlag,
  checkPresetData,
  dataFlag,
  integerFlag,
  presetFlag,
  seedsFlag,
  workersFlag,
} from '../options.js';
import { REPRODUCIBLE_TABLES, reproduce, tableRows, type ReproducibleTable } from '../reproduce.js';

/** The `reproduce` command. */
export const REPRODUCE_SPEC: CommandSpec = {
  name: 'reproduce',
  summary:
    "Reproduce a table of the paper at a preset: train Table 1's BYOL row as the teacher, then every row for each seed; evaluate; write results.json, results.md and plots.",
  positionals: `<${REPRODUCIBLE_TABLES.join('|')}>`,
  arity: { min: 1, max: 1 },
  flags: {
    preset: PRESET_FLAG,
    seed: SEED_FLAG,
    seeds: SEEDS_FLAG,
    data: DATA_FLAG,
    backend: BACKEND_FLAG,
    workers: WORKERS_FLAG,
    out: {
      type: 'string',
      value: 'dir',
      description: 'output folder',
      defaultText: 'reproduce/<table>-<preset>',
    },
    rows: {
      type: 'string',
      value: 'ids',
      description: 'only these rows, comma-separated (e.g. byol,ediy)',
    },
    'checkpoint-every': {
      type: 'string',
      value: 'n',
      description:
        "checkpoint every n optimiser steps, so an interrupted run loses less (default: the preset's interval)",
    },
    'max-steps': { type: 'string', value: 'n', description: 'cap every run at n optimiser steps' },
  },
  details: `Examples:
  ediy reproduce table1 --preset smoke
  ediy reproduce table1 --preset mini --seeds 0,1,2
Run it again to resume: finished rows (with eval.json) are skipped, an interrupted row
resumes from its newest checkpoint.`,
};

/** Runs `ediy reproduce`. */
export async function reproduceCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const cmd = 'reproduce';
  const table = args.positionals[0] as string;
  if (!(REPRODUCIBLE_TABLES as readonly string[]).includes(table)) {
    throw new UsageError(
      `ediy ${cmd}: unknown table ${JSON.stringify(table)}; expected one of ${REPRODUCIBLE_TABLES.join(', ')}`,
      cmd,
    );
  }
  const preset = presetFlag(args, cmd);
  const seeds = seedsFlag(args, cmd);
  const data = dataFlag(args, cmd);
  checkPresetData(preset, data, cmd);
  const prefer = backendFlag(args, cmd);
  const workers = workersFlag(args, cmd);
  const maxSteps = integerFlag(args, 'max-steps', cmd, 1);
  const checkpointEvery = integerFlag(args, 'checkpoint-every', cmd, 1);
  const rows = stringFlag(args, 'rows')
    ?.split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  try {
    tableRows(table as ReproducibleTable, rows);
  } catch (err) {
    throw new UsageError(`ediy ${cmd}: --rows: ${(err as Error).message}`, cmd);
  }
  const info = await setupBackend(prefer, io);
  const out = stringFlag(args, 'out');
  const { files } = await reproduce({
    table: table as ReproducibleTable,
    preset,
    seeds,
    backend: describeBackend(info),
    progress: io.stderr,
    ...(data ? { data } : {}),
    ...(out ? { out } : {}),
    ...(rows ? { rows } : {}),
    ...(maxSteps !== undefined ? { maxSteps } : {}),
    ...(checkpointEvery !== undefined ? { checkpointEvery } : {}),
    workers,
  });
  for (const f of files) println(io.stdout, f);
  return 0;
}
