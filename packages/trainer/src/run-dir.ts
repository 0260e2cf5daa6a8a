/**
 * The run directory's bookkeeping around a resume: file-system errors that name the
 * path, a fresh run that moves an earlier run aside instead of mixing with it, and the
 * config compared with the one a checkpoint was written with. The layout itself and its
 * files' readers and writers (the log cut back to a checkpoint's step, `holdsRun`, ...)
 * are `@ediy/core/node`'s run directory.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { syncFolder as coreSyncFolder } from '@ediy/core/node';

export { holdsRun, truncateLog } from '@ediy/core/node';

/**
 * Runs a file-system call, turning its error into one that names the operation, the
 * path and the system's own reason (`EROFS: read-only file system`, `ENOSPC: no space
 * left on device`, ...), with the original error as `cause`.
 */
export function fsCall<T>(what: string, path: string, call: () => T): T {
  try {
    return call();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code ? `${e.code}: ${e.message.replace(/^\w+: /, '')}` : e.message;
    throw new Error(`cannot ${what} ${path} (${reason})`, { cause: err });
  }
}

/**
 * Writes `data` to `path` and flushes it to the disk (fsync) before returning, so a
 * rename that follows never publishes a file whose bytes are still in the page cache.
 * @deprecated The trainer writes with `@ediy/core/node`'s `writeFileAtomic` (temporary
 * file, fsync, rename, fsync of the folder); use that.
 */
export function writeFileDurably(path: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = fsCall('create', path, () => openSync(path, 'w'));
  try {
    let offset = 0;
    while (offset < bytes.length) {
      offset += fsCall('write', path, () =>
        writeSync(fd, bytes, offset, bytes.length - offset, null),
      );
    }
    fsCall('flush', path, () => fsyncSync(fd));
  } finally {
    closeSync(fd);
  }
}

/**
 * Flushes a folder's entries (a rename into it) to the disk; ignored where folders cannot
 * be opened or synced.
 * @deprecated `@ediy/core/node` exports the same `syncFolder`, which `writeFileAtomic`
 * uses; import it from there.
 */
export const syncFolder: (path: string) => void = coreSyncFolder;

/**
 * Moves a run directory aside to `<runDir>.replaced-<UTC time>` (a counter appended if
 * that exists) and returns the new path: a fresh run then starts in an empty folder and
 * nothing of the earlier run (checkpoints, log, evaluation) is mistaken for its own.
 */
export function moveRunAside(runDir: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  let aside = join(dirname(runDir), `${basename(runDir)}.replaced-${stamp}`);
  for (let k = 2; existsSync(aside); k++)
    aside = join(dirname(runDir), `${basename(runDir)}.replaced-${stamp}-${k}`);
  fsCall('move the earlier run to', aside, () => renameSync(runDir, aside));
  return aside;
}

/**
 * The first place where two JSON values differ, as `config.scale.batchSize (8 here, 4
 * there)`, or undefined when they are equal. Key order does not matter.
 */
export function firstDifference(a: unknown, b: unknown, path = 'config'): string | undefined {
  if (a === b) return undefined;
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null;
  if (isObject(a) && isObject(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) {
      const d = firstDifference(
        a[key],
        b[key],
        Array.isArray(a) ? `${path}[${key}]` : `${path}.${key}`,
      );
      if (d) return d;
    }
    return undefined;
  }
  return `${path} (${JSON.stringify(a) ?? 'absent'} here, ${JSON.stringify(b) ?? 'absent'} there)`;
}
