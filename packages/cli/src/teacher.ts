/**
 * `--teacher <dir>`: a run directory of `ediy pretrain` (its newest checkpoint's
 * online backbone) or a TF.js Layers model directory (`ediy import-weights`,
 * `ediy export`).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isRunDir } from '@ediy/core/node';
import type { ExperimentConfig, RowConfig } from '@ediy/trainer';
import { UsageError } from './errors.js';

/** Whether a row's region losses pair regions with the teacher. */
export function needsTeacher(row: RowConfig): boolean {
  return row.method.regionLosses.some((t) => t.matcher === 'teacher');
}

/** The teacher spec of a directory, or a UsageError saying what the folder should hold. */
export function teacherSpec(
  dir: string,
  command: string,
): NonNullable<ExperimentConfig['teacher']> {
  const path = resolve(dir);
  if (isRunDir(path)) return { run: path };
  if (existsSync(join(path, 'model.json'))) return { modelDir: path };
  throw new UsageError(
    `ediy ${command}: --teacher ${JSON.stringify(dir)} is neither a run directory (with checkpoints/) nor a model directory (with model.json)`,
    command,
  );
}
