/**
 * The run directory's bookkeeping around a resume: file-system errors that name the
 * path, a fresh run that moves an earlier run aside instead of mixing with it, the log
 * cut back to the checkpoint a run resumes from, and the config compared with the one a
 * checkpoint was written with.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '@ediy/core/node';

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

/** Flushes a folder's entries (a rename into it) to the disk; ignored where folders cannot be opened. */
export function syncFolder(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on a folder; the data files themselves are synced
  } finally {
    closeSync(fd);
  }
}

/** Whether `runDir` holds an earlier run: a checkpoint folder or a log. */
export function holdsRun(runDir: string): boolean {
  if (existsSync(join(runDir, 'log.jsonl'))) return true;
  const ckpts = join(runDir, 'checkpoints');
  return existsSync(ckpts) && readdirSync(ckpts).length > 0;
}

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
 * Cuts a run's `log.jsonl` back to the records of steps `<= step` (those a resumed
 * run does not repeat), so that no step appears twice. Written durably to a temporary
 * file and renamed into place. Returns how many lines it dropped.
 */
export function truncateLog(path: string, step: number): number {
  if (!existsSync(path)) return 0;
  const lines = fsCall('read', path, () => readFileSync(path, 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '');
  const kept = lines.filter((line) => {
    try {
      const record = JSON.parse(line) as { step?: unknown };
      return typeof record.step === 'number' && record.step <= step;
    } catch {
      return false; // a line cut short by a crash
    }
  });
  if (kept.length === lines.length) return 0;
  writeFileAtomic(path, kept.map((l) => `${l}\n`).join(''));
  return lines.length - kept.length;
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
