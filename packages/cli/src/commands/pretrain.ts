/**
 * `ediy pretrain <config|row>`: trains one row (a row id or a config module) at a
 * preset, for one or more seeds, resuming from checkpoints.
 */
import { existsSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import {
  ConfigError,
  PRESET_NAMES,
  presetScale,
  pretrain,
  resolveExperiment,
  type ExperimentConfig,
} from '@ediy/trainer';
import { booleanFlag, stringFlag, type CommandSpec, type ParsedArgs } from '../args.js';
import { setupBackend } from '../backend.js';
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
  choiceFlag,
  dataFlag,
  integerFlag,
  MONITOR_FLAGS,
  monitorFlag,
  PASTED_DEFAULTS,
  seedsFlag,
  workersFlag,
} from '../options.js';
import { OVERRIDE_FLAGS, overridesOf } from '../overrides.js';
import { withCheckpointEvery } from '../reproduce.js';
import { MODULE_EXTENSIONS, loadConfig } from '../rows.js';
import { teacherSpec } from '../teacher.js';
import { checkImages } from '../unreadable.js';

/** The `pretrain` command. */
export const PRETRAIN_SPEC: CommandSpec = {
  name: 'pretrain',
  summary:
    'Pre-train one experiment: a row id of the paper tables (table1/ediy, table2/equal, ...) or a config file (YAML, JSON, or a TS/JS module), with overrides from flags.',
  positionals: '<config|row>',
  arity: { min: 1, max: 1 },
  flags: {
    preset: PRESET_FLAG,
    seed: SEED_FLAG,
    seeds: SEEDS_FLAG,
    data: DATA_FLAG,
    'held-out': HELD_OUT_FLAG,
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
    ...OVERRIDE_FLAGS,
    ...MONITOR_FLAGS,
    fresh: {
      type: 'boolean',
      description: 'start over instead of resuming from the newest checkpoint',
    },
    'no-tensorboard': {
      type: 'boolean',
      description: 'do not write TensorBoard event files to <run>/tb (written by default)',
    },
    strict: {
      type: 'boolean',
      description:
        'unreadable images of an image folder are an error (naming each file and why) instead of a listed skip',
    },
  },
  details: `Examples:
  ediy pretrain table1/byol --preset mini
  ediy pretrain table1/ediy --preset mini --teacher runs/table1-byol/seed-0
  ediy pretrain examples/extending/region-variance.ts --preset smoke
  ediy pretrain my-run.yaml --epochs 100 --set optim.baseLr=1.0

A config file is a partial experiment stating what differs from its base: YAML, JSON,
or a TS/JS module exporting it (default export or 'row'), from any folder, e.g.
  base: table1/byol        # optional: the row it starts from (method, paper row)
  preset: mini             # optional: the scale preset it changes (--preset wins)
  name: my-byol
  scale: { backbone: { widthMultiplier: 1 }, imageSize: 64, data: { kind: path, path: photos } }
  optim: { baseLr: 0.3, warmupFraction: 0.05 }
Precedence: row < preset < config file < flags. Every field is checked: an unknown
field or a bad value is an error naming it. The resolved config is printed at the start
and written to <run>/config.json. 'ediy list' shows rows, presets, losses and matchers.
An interrupted run resumes from its newest checkpoint when run again.`,
};

/**
 * The loader of config modules (TypeScript included), for the replica worker of
 * `--workers 2`: it imports the config module there too, so a loss or matcher the module
 * registers is known in both threads.
 */
const CONFIG_LOADER = new URL(
  import.meta.url.endsWith('.ts') ? '../config-module.ts' : '../config-module.js',
  import.meta.url,
).href;

/** The run directory of a row and seed under a runs folder. */
export function runDirOf(out: string, name: string, seed: number): string {
  return resolve(join(out, name, `seed-${seed}`));
}

/** The data a config reads must exist before any work starts. */
function checkDataExists(config: ExperimentConfig, command: string): void {
  const data = config.scale.data;
  if (data.kind === 'path' && !existsSync(resolve(data.path))) {
    throw new UsageError(
      `ediy ${command}: ${config.name} trains on ${data.path}, which does not exist here; pass --data <path> (e.g. an ImageNet train folder) or set scale.data`,
      command,
    );
  }
}

/** Runs `ediy pretrain`. */
export async function pretrainCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const cmd = 'pretrain';
  const seeds = seedsFlag(args, cmd);
  const prefer = backendFlag(args, cmd);
  const workers = workersFlag(args, cmd);
  const checkpointEvery = integerFlag(args, 'checkpoint-every', cmd, 1);
  const out = stringFlag(args, 'out') ?? 'runs';
  const teacherDir = stringFlag(args, 'teacher');
  const overrides = overridesOf(args, cmd);
  const loaded = await loadConfig(args.positionals[0] as string, cmd);
  const preset = choiceFlag(args, 'preset', PRESET_NAMES, loaded.preset ?? 'mini', cmd);
  const presetData = presetScale(preset).data;
  const data = dataFlag(
    args,
    cmd,
    presetData.kind === 'scenes'
      ? {
          count: presetData.count,
          size: Math.max(presetData.size, PASTED_DEFAULTS.size),
          seed: presetData.seed,
        }
      : PASTED_DEFAULTS,
  );
  const layers = [...(loaded.file ? [loaded.file] : []), ...overrides];
  const teacher = teacherDir === undefined ? undefined : teacherSpec(teacherDir, cmd);
  const configOf = (seed: number): ExperimentConfig => {
    const resolveWith = (withTeacher: boolean) => {
      try {
        return resolveExperiment(loaded.row, {
          preset,
          seed,
          layers,
          ...(data ? { data } : {}),
          ...(withTeacher && teacher ? { teacher } : {}),
        });
      } catch (err) {
        // A bad field is a bad command line or config file: exit 2, as any usage error.
        if (err instanceof ConfigError) throw new UsageError(`ediy ${cmd}: ${err.message}`, cmd);
        throw err;
      }
    };
    const config = resolveWith(false);
    return withCheckpointEvery(
      usesTeacher(config) && teacher ? resolveWith(true) : config,
      checkpointEvery,
    );
  };
  const first = configOf(seeds[0] as number);
  if (usesTeacher(first) && !first.teacher) {
    throw new UsageError(
      `ediy ${cmd}: ${first.name} pairs regions with the 'teacher' matcher; pass --teacher <dir> (a BYOL run, e.g. from 'ediy pretrain table1/byol --preset ${preset}', or a model directory from 'ediy import-weights') or set teacher in the config`,
      cmd,
    );
  }
  checkDataExists(first, cmd);
  const monitor = monitorFlag(args, preset, first.scale.data, cmd);
  await checkImages(first.scale.data, booleanFlag(args, 'strict'), io, cmd);
  await setupBackend(prefer, io);
  const from = [
    loaded.file
      ? `${loaded.row.name ? `row ${loaded.row.name} < ` : ''}preset ${preset} < ${loaded.source}`
      : `row ${loaded.source} < preset ${preset}`,
    ...(overrides.length > 0 ? [overrides.map((o) => o.source).join(', ')] : []),
  ].join(' < ');
  const configModule =
    loaded.file && (MODULE_EXTENSIONS as readonly string[]).includes(extname(loaded.source))
      ? { workerImports: [loaded.source], workerLoader: CONFIG_LOADER }
      : {};
  for (const seed of seeds) {
    const config = configOf(seed);
    const runDir = runDirOf(out, config.name, seed);
    println(io.stderr, `ediy: pretrain ${from} (seed ${seed}) -> ${runDir}`);
    println(io.stderr, `ediy: resolved config (written to ${join(runDir, 'config.json')}):`);
    io.stderr.write(indent(toYaml(config)));
    const result = await pretrain(config, {
      runDir,
      resume: !booleanFlag(args, 'fresh'),
      tensorboard: !booleanFlag(args, 'no-tensorboard'),
      strict: booleanFlag(args, 'strict'),
      ...(monitor ? { monitor } : {}),
      progress: io.stderr,
      label: `${config.name} seed ${seed}`,
      workers,
      ...configModule,
    });
    const last = result.records[result.records.length - 1];
    println(
      io.stdout,
      `${runDir}\tsteps ${result.steps}/${result.totalSteps}${result.finished ? '' : ' (unfinished)'}${last ? `\tloss ${last.loss.toFixed(4)}` : ''}\tcheckpoint ${result.checkpoint}`,
    );
  }
  return 0;
}

function usesTeacher(config: ExperimentConfig): boolean {
  return config.method.regionLosses.some((t) => t.matcher === 'teacher');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => (line ? `  ${line}` : line))
    .join('\n');
}
