/**
 * `ediy pretrain <config|row>`: trains one row (a row id or a config module) at a
 * preset, for one or more seeds, resuming from checkpoints.
 */
import { join, resolve } from 'node:path';
import { pretrain, resolveExperiment } from '@ediy/trainer';
import { booleanFlag, stringFlag, type CommandSpec, type ParsedArgs } from '../args.js';
import { setupBackend } from '../backend.js';
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
import { withCheckpointEvery } from '../reproduce.js';
import { loadRow } from '../rows.js';
import { needsTeacher, teacherSpec } from '../teacher.js';

/** The `pretrain` command. */
export const PRETRAIN_SPEC: CommandSpec = {
  name: 'pretrain',
  summary:
    'Pre-train one row: a row id of the paper tables (table1/ediy, table2/equal, ...) or a module exporting a RowConfig.',
  positionals: '<config|row>',
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
      description: 'runs folder; a run goes to <dir>/<row name>/seed-<n>',
      defaultText: 'runs',
    },
    teacher: {
      type: 'string',
      value: 'dir',
      description:
        "frozen teacher for the 'teacher' matcher: a BYOL run directory or a TF.js model directory",
    },
    'checkpoint-every': {
      type: 'string',
      value: 'n',
      description:
        "checkpoint every n optimiser steps, so an interrupted run loses less (default: the preset's interval)",
    },
    'max-steps': {
      type: 'string',
      value: 'n',
      description: 'stop the schedule after n optimiser steps',
    },
    fresh: {
      type: 'boolean',
      description: 'start over instead of resuming from the newest checkpoint',
    },
  },
  details: `Examples:
  ediy pretrain table1/byol --preset mini
  ediy pretrain table1/ediy --preset mini --teacher runs/table1-byol/seed-0
  ediy pretrain examples/extending/region-variance.ts --preset smoke

A config module's default export (or its export 'row') is a RowConfig:
  { name, method: { byolWeight, regionLosses: [{ loss, weight, matcher }], localPredictor } }.
An interrupted run resumes from its newest checkpoint when run again.`,
};

/** The run directory of a row and seed under a runs folder. */
export function runDirOf(out: string, name: string, seed: number): string {
  return resolve(join(out, name, `seed-${seed}`));
}

/** Runs `ediy pretrain`. */
export async function pretrainCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const cmd = 'pretrain';
  const preset = presetFlag(args, cmd);
  const seeds = seedsFlag(args, cmd);
  const data = dataFlag(args, cmd);
  checkPresetData(preset, data, cmd);
  const prefer = backendFlag(args, cmd);
  const workers = workersFlag(args, cmd);
  const maxSteps = integerFlag(args, 'max-steps', cmd, 1);
  const checkpointEvery = integerFlag(args, 'checkpoint-every', cmd, 1);
  const out = stringFlag(args, 'out') ?? 'runs';
  const teacherDir = stringFlag(args, 'teacher');
  const { row, source } = await loadRow(args.positionals[0] as string, cmd);
  const teacher = teacherDir === undefined ? undefined : teacherSpec(teacherDir, cmd);
  if (needsTeacher(row) && !teacher) {
    throw new UsageError(
      `ediy ${cmd}: row ${row.name} pairs regions with the 'teacher' matcher; pass --teacher <dir> (a BYOL run, e.g. from 'ediy pretrain table1/byol --preset ${preset}', or a model directory from 'ediy import-weights')`,
      cmd,
    );
  }
  await setupBackend(prefer, io);
  for (const seed of seeds) {
    const config = withCheckpointEvery(
      resolveExperiment(row, {
        preset,
        seed,
        ...(data ? { data } : {}),
        ...(teacher && needsTeacher(row) ? { teacher } : {}),
        ...(maxSteps !== undefined ? { scale: { maxSteps } } : {}),
      }),
      checkpointEvery,
    );
    const runDir = runDirOf(out, row.name, seed);
    println(io.stderr, `ediy: pretrain ${source} (preset ${preset}, seed ${seed}) -> ${runDir}`);
    const result = await pretrain(config, {
      runDir,
      resume: !booleanFlag(args, 'fresh'),
      progress: io.stderr,
      label: `${row.name} seed ${seed}`,
      workers,
    });
    const last = result.records[result.records.length - 1];
    println(
      io.stdout,
      `${runDir}\tsteps ${result.steps}/${result.totalSteps}${result.finished ? '' : ' (unfinished)'}${last ? `\tloss ${last.loss.toFixed(4)}` : ''}\tcheckpoint ${result.checkpoint}`,
    );
  }
  return 0;
}
