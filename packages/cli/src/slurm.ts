/**
 * `ediy reproduce --slurm`: a reproduction as Slurm jobs. The teacher is one job; the row
 * jobs are one job array (task i runs `--shard i/n`, one row and seed) that starts when
 * the teacher succeeded (`afterok`); a last job collects the results when every task
 * succeeded. Every job writes to the shared output folder, so that folder must be on a
 * file system every node sees.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReproducePlan } from './plan.js';

/** The `ediy` executable of this installation (bin/ediy.js of @ediy/cli). */
export const EDIY_BIN = fileURLToPath(new URL('../bin/ediy.js', import.meta.url));

/** Options of {@link submitSlurm}. */
export interface SlurmOptions {
  /**
   * The words after `ediy` that run this reproduction with the same settings
   * (`reproduce table1 --preset smoke --out /abs/dir ...`); each job adds its own flag.
   */
  command: readonly string[];
  /** Extra `sbatch` arguments for every job (`--partition=gpu --time=4:00:00`). */
  sbatchArgs?: readonly string[];
  /** The `sbatch` executable (default `sbatch` on PATH). */
  sbatch?: string;
  /** How jobs start `ediy` (default: this Node.js and {@link EDIY_BIN}). */
  ediy?: readonly string[];
}

/** The job ids and scripts of a submission. */
export interface SlurmSubmission {
  /** The teacher's job id (absent when no row needs a teacher). */
  teacher?: string;
  /** The array job's id. */
  array: string;
  /** Number of array tasks (the plan's row jobs). */
  tasks: number;
  /** The collecting job's id. */
  collect: string;
  /** The batch scripts written (under `<out>/slurm/`). */
  scripts: string[];
}

/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A batch script: `#SBATCH` lines, then `exec` of the command. */
export function batchScript(directives: readonly string[], command: readonly string[]): string {
  return [
    '#!/bin/sh',
    ...directives.map((d) => `#SBATCH ${d}`),
    'set -e',
    `exec ${command.map((w) => (w.startsWith('$') ? `"${w}"` : shellQuote(w))).join(' ')}`,
    '',
  ].join('\n');
}

/** The job id `sbatch --parsable` printed (`123` or `123;cluster`). */
export function parseJobId(stdout: string): string {
  const id = stdout.trim().split(';')[0] ?? '';
  if (!/^\d+$/.test(id)) throw new Error(`sbatch printed ${JSON.stringify(stdout)}, not a job id`);
  return id;
}

/**
 * Writes the batch scripts of `plan` into `<out>/slurm/` and submits them with
 * `sbatch --parsable`: the teacher, the array (depending on the teacher with `afterok`)
 * and the collecting job (depending on the array with `afterok`). Logs go next to the
 * scripts (`teacher-<job>.log`, `task-<array>_<i>.log`, `collect-<job>.log`).
 * @throws when sbatch fails (with its message), or when the plan has no row job.
 */
export function submitSlurm(plan: ReproducePlan, options: SlurmOptions): SlurmSubmission {
  const tasks = plan.jobs.length;
  if (tasks === 0) throw new Error(`the plan of ${plan.out} has no row job to submit`);
  const dir = join(plan.out, 'slurm');
  mkdirSync(dir, { recursive: true });
  const ediy = options.ediy ?? [process.execPath, EDIY_BIN];
  const sbatch = options.sbatch ?? 'sbatch';
  const name = `ediy-${plan.table}-${plan.preset}`;
  const scripts: string[] = [];
  const submit = (
    file: string,
    directives: string[],
    flags: string[],
    dependency?: string,
  ): string => {
    const path = join(dir, file);
    writeFileSync(
      path,
      batchScript(
        [...directives, `--chdir=${process.cwd()}`],
        [...ediy, ...options.command, ...flags],
      ),
      {
        mode: 0o755,
      },
    );
    scripts.push(path);
    const args = [
      '--parsable',
      ...(dependency ? [`--dependency=afterok:${dependency}`, '--kill-on-invalid-dep=yes'] : []),
      ...(options.sbatchArgs ?? []),
      path,
    ];
    let stdout: string;
    try {
      stdout = execFileSync(sbatch, args, {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(
        `${sbatch} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`,
        { cause: err },
      );
    }
    return parseJobId(stdout);
  };
  const teacher = plan.teacher
    ? submit(
        'teacher.sh',
        [`--job-name=${name}-teacher`, `--output=${join(dir, 'teacher-%j.log')}`],
        ['--teacher-only'],
      )
    : undefined;
  const array = submit(
    'tasks.sh',
    [`--job-name=${name}`, `--array=1-${tasks}`, `--output=${join(dir, 'task-%A_%a.log')}`],
    ['--shard', `$SLURM_ARRAY_TASK_ID/${tasks}`],
    teacher,
  );
  const collect = submit(
    'collect.sh',
    [`--job-name=${name}-collect`, `--output=${join(dir, 'collect-%j.log')}`],
    ['--collect'],
    array,
  );
  return { ...(teacher ? { teacher } : {}), array, tasks, collect, scripts };
}
