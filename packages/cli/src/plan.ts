/**
 * The job list of a reproduction: Table 1's BYOL row as the frozen teacher first, then
 * every row of the table for every seed, each an independent run writing to its own
 * folder under the output folder. `ediy reproduce --plan` writes it as `plan.json`;
 * `--shard k/n` runs one slice of its row jobs, `--slurm` submits it as a job array.
 */
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TABLE1 } from '@ediy/paper';
import {
  resolveExperiment,
  type ConfigLayer,
  type DataConfig,
  type ExperimentConfig,
  type PresetName,
  type RowConfig,
} from '@ediy/trainer';
import type { RowOverPreset } from './table-module.js';
import { needsTeacher } from './teacher.js';

/** One independent run of a reproduction. */
export interface ReproduceJob {
  /** `teacher`, or `<row>/seed-<seed>` for a row job. */
  id: string;
  /** The row id (`byol` for the teacher: it is Table 1's BYOL row). */
  row: string;
  /** The run seed. */
  seed: number;
  /** Where the run writes its checkpoints, log and `eval.json` (absolute). */
  runDir: string;
  /** The experiment the run trains (what `pretrain` writes to `config.json`). */
  config: ExperimentConfig;
  /**
   * For a row job: it is the teacher run itself (Table 1's BYOL row at the first seed),
   * so the job only evaluates the teacher's folder and needs the teacher finished.
   */
  teacherRun: boolean;
}

/** What `plan.json` holds. */
export interface ReproducePlan {
  /** Format version of the file. */
  version: 1;
  /** `table1` or `table2`. */
  table: string;
  /** The preset. */
  preset: PresetName;
  /** Run seeds; the teacher uses the first. */
  seeds: number[];
  /** The output folder (absolute). */
  out: string;
  /** Training data, when not the preset's embedded scenes. */
  data?: DataConfig;
  /** The teacher job, absent when no row pairs regions with the teacher. */
  teacher?: ReproduceJob;
  /** The row jobs: the rows in the paper's order, each for every seed. */
  jobs: ReproduceJob[];
}

/** What {@link planJobs} needs. */
export interface PlanInput {
  /** Table name. */
  table: string;
  /** The rows to run, in order. */
  rows: ReadonlyArray<readonly [string, RowConfig]>;
  /** The preset. */
  preset: PresetName;
  /** Run seeds (at least one). */
  seeds: readonly number[];
  /** Absolute output folder. */
  out: string;
  /** Training data (default the preset's). */
  data?: DataConfig;
  /** Cap on optimiser steps of every run. */
  maxSteps?: number;
  /** Checkpoint interval of every run. */
  checkpointEvery?: number;
  /** Config layers over the preset for every run (e.g. command-line overrides), in order. */
  layers?: ReadonlyArray<{ layer: ConfigLayer; source: string }>;
  /**
   * Per row id, what a user's row changes over the preset, below `layers`
   * (`TableSource.overPreset`).
   */
  overPreset?: Readonly<Record<string, RowOverPreset>>;
}

/** `config` with its checkpoint interval set to `every` (unchanged when undefined). */
export function withCheckpointEvery(
  config: ExperimentConfig,
  every: number | undefined,
): ExperimentConfig {
  return every === undefined ? config : { ...config, checkpoint: { ...config.checkpoint, every } };
}

/**
 * The job list of a reproduction. The BYOL row at the teacher's seed resolves to the
 * teacher's own config, so its job reuses the teacher's folder instead of training twice.
 * @throws when `seeds` is empty.
 */
export function planJobs(input: PlanInput): ReproducePlan {
  const seeds = [...input.seeds];
  if (seeds.length === 0) throw new Error('reproduce needs at least one seed');
  const common = {
    preset: input.preset,
    ...(input.data ? { data: input.data } : {}),
    ...(input.maxSteps ? { scale: { maxSteps: input.maxSteps } } : {}),
    ...(input.layers ? { layers: input.layers } : {}),
  };
  const resolveRow = (
    row: RowConfig,
    seed: number,
    teacher?: ExperimentConfig['teacher'],
    over?: RowOverPreset,
  ): ExperimentConfig =>
    withCheckpointEvery(
      resolveExperiment(row, {
        ...common,
        ...(over
          ? {
              layers: [{ layer: over.layer, source: over.source }, ...(input.layers ?? [])],
              ...(over.paperEpochs !== undefined ? { paperEpochs: over.paperEpochs } : {}),
            }
          : {}),
        seed,
        ...(teacher ? { teacher } : {}),
      }),
      input.checkpointEvery,
    );
  const teacherDir = join(input.out, 'teacher');
  const teacherNeeded = input.rows.some(([, row]) => needsTeacher(row));
  const teacherConfig = resolveRow(TABLE1.byol, seeds[0] as number);
  const teacherKey = JSON.stringify(teacherConfig);
  const jobs: ReproduceJob[] = [];
  for (const [id, row] of input.rows) {
    for (const seed of seeds) {
      const config = resolveRow(
        row,
        seed,
        needsTeacher(row) ? { run: teacherDir } : undefined,
        input.overPreset?.[id],
      );
      const teacherRun = teacherNeeded && JSON.stringify(config) === teacherKey;
      jobs.push({
        id: `${id}/seed-${seed}`,
        row: id,
        seed,
        runDir: teacherRun ? teacherDir : join(input.out, 'runs', id, `seed-${seed}`),
        config,
        teacherRun,
      });
    }
  }
  return {
    version: 1,
    table: input.table,
    preset: input.preset,
    seeds,
    out: input.out,
    ...(input.data ? { data: input.data } : {}),
    ...(teacherNeeded
      ? {
          teacher: {
            id: 'teacher',
            row: 'byol',
            seed: seeds[0] as number,
            runDir: teacherDir,
            config: teacherConfig,
            teacherRun: false,
          },
        }
      : {}),
    jobs,
  };
}

/** Slice `index` (1-based) of `count` slices of a job list. */
export interface Shard {
  /** Which slice, 1 to `count`. */
  index: number;
  /** How many slices. */
  count: number;
}

/**
 * Parses `--shard k/n` (1 <= k <= n).
 * @throws naming the text and what was expected.
 */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new Error(
      `shard ${JSON.stringify(text)} must be k/n with 1 <= k <= n (e.g. 2/4: the second of four slices)`,
    );
  }
  return { index, count };
}

/**
 * The jobs of slice `shard.index` of `shard.count`: contiguous slices whose sizes differ
 * by at most one, which together hold every job once, in order. A slice may be empty
 * when there are more slices than jobs.
 */
export function shardJobs<T>(jobs: readonly T[], shard: Shard): T[] {
  const { index, count } = shard;
  const from = Math.floor(((index - 1) * jobs.length) / count);
  const to = Math.floor((index * jobs.length) / count);
  return jobs.slice(from, to);
}

/** Options of {@link withTeacherLock}. */
export interface TeacherLockOptions {
  /** Milliseconds between looks at the teacher's folder while another process trains it (default 1000). */
  pollMs?: number;
  /** Called once when this process starts waiting for another's teacher. */
  onWait?: (holder: string) => void;
}

/**
 * Makes sure the teacher is trained exactly once when several shards start together:
 * the first to create `lockPath` (an exclusive create, atomic on a local or NFS folder)
 * runs `train`, the others wait until `donePath` exists. Returns whether this process
 * trained it. A process killed while training leaves the lock behind: delete it to retry.
 * @throws when the lock disappears without `donePath` (the training shard failed), or
 *   when `train` throws (the lock is removed so that a rerun can try again).
 */
export async function withTeacherLock(
  lockPath: string,
  donePath: string,
  train: () => Promise<void>,
  options: TeacherLockOptions = {},
): Promise<boolean> {
  if (existsSync(donePath)) return false;
  let fd: number | undefined;
  try {
    fd = openSync(lockPath, 'wx');
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err;
  }
  if (fd !== undefined) {
    try {
      writeSync(fd, `${hostname()} pid ${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    try {
      // Another process may have finished between the first look and the lock.
      if (!existsSync(donePath)) await train();
      return true;
    } finally {
      rmSync(lockPath, { force: true });
    }
  }
  const holder = readHolder(lockPath);
  options.onWait?.(holder);
  const pollMs = options.pollMs ?? 1000;
  for (;;) {
    if (existsSync(donePath)) return false;
    if (!existsSync(lockPath)) {
      // The holder may have written done.json just before removing the lock.
      if (existsSync(donePath)) return false;
      throw new Error(
        `the teacher's training (${holder}) ended without ${donePath}; see that process's log, then run again`,
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function readHolder(lockPath: string): string {
  try {
    return readFileSync(lockPath, 'utf8').trim() || 'another process';
  } catch {
    return 'another process';
  }
}
