/**
 * `ediy reproduce <table1|table2|table file>`: the whole table at a preset (see
 * {@link reproduce}); a table file is a user's own list of rows ({@link loadTableFile}).
 */
import {
  booleanFlag,
  stringFlag,
  stringsFlag,
  type CommandSpec,
  type ParsedArgs,
} from '../args.js';
import { OVERRIDE_FLAGS, overridesOf } from '../overrides.js';
import { ConfigError, presetScale } from '@ediy/trainer';
import { describeBackend, setupBackend } from '../backend.js';
import { UsageError } from '../errors.js';
import { println, type CliIO } from '../io.js';
import {
  BACKEND_FLAG,
  DATA_FLAG,
  HELD_OUT_FLAG,
  PRESET_FLAG,
  SEEDS_FLAG,
  SEED_FLAG,
  WORKERS_FLAG,
  backendFlag,
  checkPresetData,
  dataFlag,
  integerFlag,
  MONITOR_FLAGS,
  monitorFlag,
  presetFlag,
  seedsFlag,
  workersFlag,
} from '../options.js';
import { parseShard, type Shard } from '../plan.js';
import {
  DEFAULT_SEEDS,
  REPRODUCIBLE_TABLES,
  collect,
  planReproduce,
  reproduce,
  reproduceShard,
  tableRows,
  trainTeacher,
  writePlan,
  type ReproduceOptions,
  type ReproducibleTable,
} from '../reproduce.js';
import { submitSlurm } from '../slurm.js';
import { loadTableFile, looksLikeTableFile, type TableSource } from '../table-module.js';
import { didYouMean } from '../suggest.js';
import { checkImages, STRICT_FLAG } from '../unreadable.js';

/** The flags that choose what part of a reproduction a call does (at most one). */
export const REPRODUCE_MODES = ['plan', 'shard', 'teacher-only', 'collect', 'slurm'] as const;

/** Flags that are the same for every job of a reproduction, passed on to Slurm jobs. */
const SHARED_FLAGS = [
  'preset',
  'seed',
  'seeds',
  'data',
  'backend',
  'workers',
  'rows',
  'checkpoint-every',
  'monitor',
  'monitor-images',
  ...(Object.keys(OVERRIDE_FLAGS).filter((f) => f !== 'set') as string[]),
] as const;

/** The `reproduce` command. */
export const REPRODUCE_SPEC: CommandSpec = {
  name: 'reproduce',
  summary:
    "Reproduce a table of the paper, or your own table file, at a preset: train Table 1's BYOL row as the teacher, then every row for each seed; evaluate; write results.json, results.md and plots.",
  positionals: `<${REPRODUCIBLE_TABLES.join('|')}|table file>`,
  arity: { min: 1, max: 1 },
  flags: {
    preset: PRESET_FLAG,
    seed: SEED_FLAG,
    seeds: { ...SEEDS_FLAG, defaultText: '0,1,2 at mini, 0 at smoke and paper' },
    data: DATA_FLAG,
    'held-out': HELD_OUT_FLAG,
    backend: BACKEND_FLAG,
    workers: WORKERS_FLAG,
    out: {
      type: 'string',
      value: 'dir',
      description: 'output folder',
      defaultText: 'reproduce/<table name>-<preset>',
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
    ...OVERRIDE_FLAGS,
    ...MONITOR_FLAGS,
    strict: STRICT_FLAG,
    'no-tensorboard': {
      type: 'boolean',
      description:
        "do not write TensorBoard event files to each run's tb folder (written by default)",
    },
    plan: {
      type: 'boolean',
      description:
        'write the job list (the teacher, then every row for every seed) to <out>/plan.json and print it; train nothing',
    },
    shard: {
      type: 'string',
      value: 'k/n',
      description:
        'run only the k-th of n contiguous slices of the row jobs (after the teacher, which the first shard to need it trains while the others wait)',
    },
    'teacher-only': { type: 'boolean', description: 'train only the teacher' },
    collect: {
      type: 'boolean',
      description:
        'train nothing: build results.json, results.md and the plots from the finished runs in <out>',
    },
    slurm: {
      type: 'boolean',
      description:
        'submit to Slurm: the teacher, an array of one task per row and seed (afterok on the teacher), and a collecting job (afterok on the array)',
    },
    'sbatch-args': {
      type: 'string',
      value: 'args',
      description: "extra sbatch arguments for every job, space-separated (e.g. '--partition=gpu')",
    },
  },
  details: `A table file (.ts, .js, .yaml, .json) lists your rows by id: a row config, a row id
of the paper's tables (table1/ediy), or { base: <row id>, ...what it changes }; its rows
run with the same teacher, seeds, evaluation, results.md and plots (docs/reproducing.md).
Examples:
  ediy reproduce table1 --preset smoke
  ediy reproduce my-table.ts --preset mini --seeds 0,1,2
  ediy reproduce table1 --preset mini --seeds 0,1,2
  ediy reproduce table1 --preset smoke --plan
  ediy reproduce table1 --preset smoke --shard 2/4     # one of four processes on a shared --out
  ediy reproduce table1 --preset smoke --collect
  ediy reproduce table1 --preset mini --slurm --sbatch-args '--partition=cpu --cpus-per-task=2'
Run it again to resume: finished rows (with eval.json) are skipped, an interrupted row
resumes from its newest checkpoint. See docs/scaling.md.`,
};

/** The plan of a reproduction; a bad field of an override is a usage error naming it. */
function planOf(options: ReproduceOptions): ReturnType<typeof planReproduce> {
  try {
    return planReproduce(options);
  } catch (err) {
    if (err instanceof ConfigError)
      throw new UsageError(`ediy reproduce: ${err.message}`, 'reproduce');
    throw err;
  }
}

/** Runs `ediy reproduce`. */
export async function reproduceCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const cmd = 'reproduce';
  const tableArg = args.positionals[0] as string;
  let table: ReproducibleTable | TableSource;
  if ((REPRODUCIBLE_TABLES as readonly string[]).includes(tableArg)) {
    table = tableArg as ReproducibleTable;
  } else if (looksLikeTableFile(tableArg)) {
    try {
      table = await loadTableFile(tableArg);
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(`ediy ${cmd}: ${err.message}`, cmd);
      throw new UsageError(`ediy ${cmd}: ${(err as Error).message}`, cmd);
    }
  } else {
    throw new UsageError(
      `ediy ${cmd}: unknown table ${JSON.stringify(tableArg)}${didYouMean(tableArg, REPRODUCIBLE_TABLES)}; expected one of ${REPRODUCIBLE_TABLES.join(', ')}, or a table file (.ts, .js, .yaml, .json)`,
      cmd,
    );
  }
  const preset = presetFlag(args, cmd);
  const seeds = seedsFlag(args, cmd, DEFAULT_SEEDS[preset]);
  const data = dataFlag(args, cmd);
  checkPresetData(preset, data, cmd);
  const prefer = backendFlag(args, cmd);
  const workers = workersFlag(args, cmd);
  const overrides = overridesOf(args, cmd);
  const checkpointEvery = integerFlag(args, 'checkpoint-every', cmd, 1);
  const rows = stringFlag(args, 'rows')
    ?.split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  try {
    tableRows(table, rows);
  } catch (err) {
    throw new UsageError(`ediy ${cmd}: --rows: ${(err as Error).message}`, cmd);
  }
  const modes = REPRODUCE_MODES.filter((m) =>
    m === 'shard' ? stringFlag(args, m) !== undefined : booleanFlag(args, m),
  );
  if (modes.length > 1) {
    throw new UsageError(
      `ediy ${cmd}: give at most one of ${REPRODUCE_MODES.map((m) => `--${m}`).join(', ')}; got ${modes.map((m) => `--${m}`).join(' and ')}`,
      cmd,
    );
  }
  const sbatchArgs = stringFlag(args, 'sbatch-args');
  if (sbatchArgs !== undefined && modes[0] !== 'slurm') {
    throw new UsageError(`ediy ${cmd}: --sbatch-args needs --slurm`, cmd);
  }
  let shard: Shard | undefined;
  const shardText = stringFlag(args, 'shard');
  if (shardText !== undefined) {
    try {
      shard = parseShard(shardText);
    } catch (err) {
      throw new UsageError(`ediy ${cmd}: --shard: ${(err as Error).message}`, cmd);
    }
  }
  const out = stringFlag(args, 'out');
  const options: ReproduceOptions = {
    table,
    preset,
    seeds,
    progress: io.stderr,
    ...(data ? { data } : {}),
    ...(out ? { out } : {}),
    ...(rows ? { rows } : {}),
    ...(overrides.length > 0 ? { overrides } : {}),
    ...(checkpointEvery !== undefined ? { checkpointEvery } : {}),
    workers,
    tensorboard: !booleanFlag(args, 'no-tensorboard'),
    monitor: monitorFlag(args, preset, data ?? presetScale(preset).data, cmd) ?? false,
  };
  // Every run's config is checked before anything starts.
  const plan = planOf(options);
  if (modes[0] === 'plan' || modes[0] === 'slurm') {
    const path = writePlan(plan);
    if (modes[0] === 'plan') {
      println(
        io.stderr,
        `ediy: ${plan.teacher ? 'the teacher, then ' : ''}${plan.jobs.length} row jobs`,
      );
      println(io.stdout, path);
      return 0;
    }
    const command = ['reproduce', typeof table === 'string' ? table : (table.file as string)];
    for (const flag of SHARED_FLAGS) {
      const value = stringFlag(args, flag);
      if (value !== undefined)
        command.push(`--${flag}`, flag === 'data' && data?.kind === 'path' ? data.path : value);
    }
    for (const flag of ['no-tensorboard', 'no-monitor'])
      if (booleanFlag(args, flag)) command.push(`--${flag}`);
    for (const set of stringsFlag(args, 'set')) command.push('--set', set);
    command.push('--out', plan.out);
    const submission = submitSlurm(plan, {
      command,
      ...(sbatchArgs ? { sbatchArgs: sbatchArgs.split(/\s+/).filter(Boolean) } : {}),
    });
    println(
      io.stderr,
      `ediy: submitted ${submission.teacher ? `teacher ${submission.teacher}, ` : ''}array ${submission.array} (${submission.tasks} tasks), collect ${submission.collect}; logs in ${plan.out}/slurm`,
    );
    println(
      io.stdout,
      `${submission.teacher ?? ''} ${submission.array} ${submission.collect}`.trim(),
    );
    return 0;
  }
  await checkImages(data ?? presetScale(preset).data, booleanFlag(args, 'strict'), io, cmd);
  const info = await setupBackend(prefer, io);
  const backend = describeBackend(info);
  if (modes[0] === 'teacher-only') {
    writePlan(plan);
    if (!plan.teacher) println(io.stderr, `ediy: no row of ${plan.table} needs a teacher`);
    else await trainTeacher(plan, { ...options, lock: true });
    return 0;
  }
  if (shard) {
    const dirs = await reproduceShard({ ...options, backend, shard });
    for (const d of dirs) println(io.stdout, d);
    return 0;
  }
  const { files } =
    modes[0] === 'collect'
      ? await collect({ ...options, backend })
      : await reproduce({ ...options, backend });
  for (const f of files) println(io.stdout, f);
  return 0;
}
