/**
 * The flags several commands share (`--preset`, `--backend`, `--seed`/`--seeds`,
 * `--data`, `--out`) and the checks of their values. Every error is a
 * {@link UsageError} naming the flag, the value and what was expected.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BackendPreference } from '@ediy/backend';
import { parseDataArg } from '@ediy/data';
import {
  PRESET_NAMES,
  presetScale,
  type DataConfig,
  type MonitorOptions,
  type PresetName,
  type WorkersOption,
} from '@ediy/trainer';
import { booleanFlag, stringFlag, type FlagSpec, type ParsedArgs } from './args.js';
import { UsageError } from './errors.js';
import { didYouMean } from './suggest.js';

/** The backend choices of `--backend`. */
export const BACKEND_CHOICES: readonly BackendPreference[] = [
  'auto',
  'webgpu',
  'tensorflow',
  'native',
  'wasm',
  'cpu',
];

/** `--preset`. */
export const PRESET_FLAG: FlagSpec = {
  type: 'string',
  value: PRESET_NAMES.join('|'),
  description:
    'scale of the run: smoke (seconds a row), mini (minutes a row on 2 CPU cores), paper (ResNet-50, 224 px, for a GPU)',
  defaultText: 'mini',
};

/** `--backend`. */
export const BACKEND_FLAG: FlagSpec = {
  type: 'string',
  value: BACKEND_CHOICES.join('|'),
  description:
    'tfjs backend; auto tries a real GPU (webgpu, tfjs-node-gpu), then native (oneDNN under wasm), then wasm, then cpu',
  defaultText: 'auto',
};

/** `--workers`. */
export const WORKERS_FLAG: FlagSpec = {
  type: 'string',
  value: '1|2|auto',
  description:
    'gradient threads: 2 splits each micro-batch over two threads (faster; BatchNorm over halves, so another run than 1); auto: 2 on a multi-core machine for batches of 32 or more',
  defaultText: '1',
};

/** `--workers`, default 1. */
export function workersFlag(args: ParsedArgs, command: string): WorkersOption {
  const value = choiceFlag(args, 'workers', ['1', '2', 'auto'] as const, '1', command);
  return value === 'auto' ? 'auto' : (Number(value) as 1 | 2);
}

/** `--seed`. */
export const SEED_FLAG: FlagSpec = {
  type: 'string',
  value: 'n',
  description: 'run seed (a non-negative integer)',
  defaultText: '0',
};

/** `--seeds`. */
export const SEEDS_FLAG: FlagSpec = {
  type: 'string',
  value: 'list',
  description: 'several run seeds, comma-separated (e.g. 0,1,2)',
};

/** `--data`. */
export const DATA_FLAG: FlagSpec = {
  type: 'string',
  value: 'path',
  description:
    "training data: 'scenes' (the embedded synthetic scenes), 'scenes:<path>' (scenes pasted from the items of a dataset at <path> onto backgrounds, with their masks) or a path @ediy/data reads (IDX file, CIFAR batch, image folder)",
  defaultText: 'scenes',
};

/** `--held-out`: the held-out scenes of `--data scenes:<path>`. */
export const HELD_OUT_FLAG: FlagSpec = {
  type: 'string',
  value: 'n',
  description:
    "held-out scenes of --data scenes:<path>, pasted from the held-out split's items: the probes' test set (more scenes, a narrower interval)",
  defaultText: 'max(64, training scenes / 4): 512 at mini',
};

/** A named flag's value checked against a list of choices. */
export function choiceFlag<T extends string>(
  args: ParsedArgs,
  flag: string,
  choices: readonly T[],
  fallback: T,
  command: string,
): T {
  const value = stringFlag(args, flag);
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(
      `ediy ${command}: --${flag} must be one of ${choices.join(', ')}; got ${JSON.stringify(value)}${didYouMean(value, choices)}`,
      command,
    );
  }
  return value as T;
}

/** `--preset`, default `mini`. */
export function presetFlag(args: ParsedArgs, command: string): PresetName {
  return choiceFlag(args, 'preset', PRESET_NAMES, 'mini', command);
}

/** `--backend`, default `auto`. */
export function backendFlag(args: ParsedArgs, command: string): BackendPreference {
  return choiceFlag(args, 'backend', BACKEND_CHOICES, 'auto', command);
}

/** Parses a non-negative integer flag value; `min` is the smallest allowed. */
export function integerValue(value: string, flag: string, command: string, min = 0): number {
  const trimmed = value.trim();
  const n = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(
      `ediy ${command}: --${flag} must be an integer >= ${min}; got ${JSON.stringify(value)}`,
      command,
    );
  }
  return n;
}

/** An optional integer flag. */
export function integerFlag(
  args: ParsedArgs,
  flag: string,
  command: string,
  min = 0,
): number | undefined {
  const value = stringFlag(args, flag);
  return value === undefined ? undefined : integerValue(value, flag, command, min);
}

/**
 * The seeds of `--seed n` or `--seeds a,b,c` (not both; `fallback` when neither is
 * given, by default `[0]`). Seeds are distinct non-negative integers.
 */
export function seedsFlag(
  args: ParsedArgs,
  command: string,
  fallback: readonly number[] = [0],
): number[] {
  const one = stringFlag(args, 'seed');
  const many = stringFlag(args, 'seeds');
  if (one !== undefined && many !== undefined) {
    throw new UsageError(
      `ediy ${command}: give --seed or --seeds, not both (got --seed ${one} and --seeds ${many})`,
      command,
    );
  }
  if (one !== undefined) return [integerValue(one, 'seed', command)];
  if (many === undefined) return [...fallback];
  const seeds = many.split(',').map((s) => integerValue(s, 'seeds', command));
  if (seeds.length === 0 || new Set(seeds).size !== seeds.length) {
    throw new UsageError(
      `ediy ${command}: --seeds must list distinct integers separated by commas; got ${JSON.stringify(many)}`,
      command,
    );
  }
  return seeds;
}

/** Count, canvas side and seed of `--data scenes:<path>` when the command gives none (the mini preset's scenes). */
export const PASTED_DEFAULTS = { count: 2048, size: 40, seed: 1 } as const;

/**
 * How a results file names a run's data: `scenes` for the embedded scenes (no data
 * config), the path for a path, and `scenes:<path> (<count> pasted scenes, <size> px,
 * seed <seed>)` for scenes pasted from the items at a path, so a table trained on pasted
 * scenes never reads as one trained on the embedded ones.
 */
export function describeData(data: DataConfig | undefined): string {
  if (data === undefined || data.kind === 'scenes') return 'scenes';
  if (data.kind === 'path') return data.path;
  const heldOut = data.heldOutCount !== undefined ? `, ${data.heldOutCount} held out` : '';
  return `scenes:${data.path} (${data.count} pasted scenes, ${data.size} px, seed ${data.seed}${heldOut})`;
}

/**
 * `--data`: undefined (the preset's embedded scenes) for no flag or `scenes`;
 * `scenes:<path>` for scenes pasted from the items at `path` onto backgrounds, with
 * their masks (`count`, canvas `size` and `seed` from `pasted`, and `heldOutCount` from
 * `--held-out` when the command has that flag and it is given); else a path. The path
 * must exist.
 * @throws UsageError for a missing path, or `--held-out` without `--data scenes:<path>`.
 */
export function dataFlag(
  args: ParsedArgs,
  command: string,
  pasted: { count: number; size: number; seed: number } = PASTED_DEFAULTS,
): DataConfig | undefined {
  const value = stringFlag(args, 'data');
  const heldOut = integerFlag(args, 'held-out', command, 1);
  if (heldOut !== undefined && !value?.startsWith('scenes:')) {
    throw new UsageError(
      `ediy ${command}: --held-out sets the held-out scenes of --data scenes:<path>; got --data ${value === undefined ? '(none)' : JSON.stringify(value)}`,
      command,
    );
  }
  if (value === undefined || value === 'scenes') return undefined;
  let spec: DataConfig;
  try {
    spec = parseDataArg(value, pasted);
  } catch (err) {
    throw new UsageError(`ediy ${command}: --data: ${(err as Error).message}`, command);
  }
  const path = resolve(spec.path);
  if (!existsSync(path)) {
    throw new UsageError(
      `ediy ${command}: --data ${JSON.stringify(value)} does not exist${spec.kind === 'pasted' ? ` (${spec.path})` : ''}; expected 'scenes', 'scenes:<path>' (scenes pasted from the items there) or a file or folder @ediy/data reads`,
      command,
    );
  }
  if (spec.kind !== 'pasted') return { kind: 'path', path };
  return { ...spec, path, ...(heldOut !== undefined ? { heldOutCount: heldOut } : {}) };
}

/** A flag that must be given (e.g. `--out` of `export`). */
export function requiredString(
  args: ParsedArgs,
  flag: string,
  command: string,
  what: string,
): string {
  const value = stringFlag(args, flag);
  if (value === undefined || value === '')
    throw new UsageError(`ediy ${command}: --${flag} <${what}> is required`, command);
  return value;
}

/**
 * Checks that a preset whose default data is on disk (`paper`: an ImageNet folder) finds
 * it when `--data` is not given.
 */
export function checkPresetData(
  preset: PresetName,
  data: DataConfig | undefined,
  command: string,
): void {
  if (data) return;
  const fallback = presetScale(preset).data;
  if (fallback.kind === 'path' && !existsSync(resolve(fallback.path))) {
    throw new UsageError(
      `ediy ${command}: the ${preset} preset trains on ${fallback.path}, which does not exist here; pass --data <path> (e.g. an ImageNet train folder)`,
      command,
    );
  }
}

/**
 * The kNN monitor a preset runs by default on its embedded scenes: at `mini`, 256 training
 * and 256 held-out images every 32 of its 192 steps of 32 images (six measurements, each
 * about the cost of two to four training steps: some 7% of a run); none at `smoke` (seconds a run) or
 * `paper`. `--monitor` asks for it anywhere.
 */
export const DEFAULT_MONITOR: Readonly<Record<PresetName, MonitorOptions | undefined>> = {
  smoke: undefined,
  mini: { every: 32, images: 256 },
  paper: undefined,
};

/** Images of each of the monitor's sets when `--monitor` does not say (that of `mini`). */
export const DEFAULT_MONITOR_IMAGES = 256;

/** `--monitor`, `--monitor-images` and `--no-monitor`. */
export const MONITOR_FLAGS: Record<string, FlagSpec> = {
  monitor: {
    type: 'string',
    value: 'n',
    description:
      "run the kNN monitor (solo-learn's online kNN: held-out kNN top-1, logged as monitor/knn_top1 and drawn) every n steps and at the last (default: every 32 steps at the mini preset on its scenes, off otherwise)",
  },
  'monitor-images': {
    type: 'string',
    value: 'n',
    description: `training and held-out images of the kNN monitor, each (default ${DEFAULT_MONITOR_IMAGES})`,
  },
  'no-monitor': { type: 'boolean', description: 'no kNN monitor, even at the mini preset' },
};

/**
 * The kNN monitor of a run from `--monitor`, `--monitor-images` and `--no-monitor`:
 * the preset's {@link DEFAULT_MONITOR} when none is given and the run trains on the
 * embedded scenes (always labelled), else off.
 * @throws UsageError for a count that is not an integer (>= 1 for `--monitor`, >= 2
 *   for `--monitor-images`), or `--no-monitor` with one of the others.
 */
export function monitorFlag(
  args: ParsedArgs,
  preset: PresetName,
  data: DataConfig,
  command: string,
): MonitorOptions | undefined {
  const every = integerFlag(args, 'monitor', command, 1);
  const images = integerFlag(args, 'monitor-images', command, 2);
  if (booleanFlag(args, 'no-monitor')) {
    if (every !== undefined || images !== undefined)
      throw new UsageError(
        `ediy ${command}: --no-monitor turns the kNN monitor off; drop it or --monitor${images !== undefined ? '-images' : ''}`,
        command,
      );
    return undefined;
  }
  if (every !== undefined) return { every, images: images ?? DEFAULT_MONITOR_IMAGES };
  const fallback = data.kind === 'scenes' ? DEFAULT_MONITOR[preset] : undefined;
  if (fallback === undefined) {
    if (images !== undefined)
      throw new UsageError(
        `ediy ${command}: --monitor-images needs the kNN monitor; add --monitor <n> (steps between measurements)`,
        command,
      );
    return undefined;
  }
  return { ...fallback, ...(images !== undefined ? { images } : {}) };
}
