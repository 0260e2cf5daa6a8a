/**
 * The unreadable images of a command's image folder, listed (file and reason, with a
 * count) before any work starts; with `--strict` they are an error.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatUnreadable, scanImageFolder, type FolderScan } from '@ediy/data';
import type { DataConfig } from '@ediy/trainer';
import { UsageError } from './errors.js';
import { println, type CliIO } from './io.js';

/** The `--strict` flag of the commands that read an image folder. */
export const STRICT_FLAG = {
  type: 'boolean',
  description:
    'unreadable images of an image folder are an error (naming each file and why) instead of a listed skip',
} as const;

/**
 * Lists the unreadable images of a data config's image folder (a header scan) on
 * stderr; with `strict` they are a usage error naming every file and why. Data that is
 * not an image folder (IDX, CIFAR, the embedded scenes) has nothing to check.
 * @param command - the command, for the error (`ediy <command>: --strict: ...`).
 */
export async function checkImages(
  data: DataConfig,
  strict: boolean,
  io: CliIO,
  command: string,
): Promise<void> {
  if (data.kind === 'scenes' || !statSync(resolve(data.path)).isDirectory()) return;
  let scan: FolderScan;
  try {
    scan = await scanImageFolder(resolve(data.path), { labeled: 'none', strict });
  } catch (err) {
    const message = (err as Error).message;
    // A folder of IDX or CIFAR files holds no images to check.
    if (/no image files found/.test(message)) return;
    if (strict) throw new UsageError(`ediy ${command}: --strict: ${message}`, command);
    throw err;
  }
  if (scan.unreadable.length > 0) println(io.stderr, `ediy: ${formatUnreadable(scan, 20)}`);
}
