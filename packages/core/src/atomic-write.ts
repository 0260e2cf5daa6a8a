/**
 * Writing a file so that it appears complete or not at all, and survives a crash once
 * written: the bytes go to a temporary file beside the target, are flushed to the disk
 * (fsync), and the temporary file is renamed over the target (an atomic step on POSIX
 * file systems and on NTFS), after which the folder's entry is flushed too.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;

function reasonOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') return `${e.code}: ${e.message.replace(/^\w+: /, '')}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Flushes a folder's entries to the disk (fsync of the folder), so that a file renamed or
 * created in it survives a crash once the call returns. A no-op where the folder cannot
 * be opened or synced (some file systems and Windows refuse fsync on a folder; the file's
 * own bytes are synced by whoever wrote it). Never throws.
 *
 * @param path - the folder.
 */
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
    // some file systems (and Windows) refuse fsync on a folder; the file itself is synced
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `data` (bytes, or a string written as UTF-8) to `path` atomically and durably,
 * creating the parent folders: readers see either the previous file or the complete new
 * one, never a partial file, and once the call returns the new file is on the disk.
 * On failure the temporary file is removed, the previous file is left as it was, and the
 * error names `path` and the system's reason (with the original error as `cause`).
 *
 * @param path - the file to write or replace.
 * @param data - its new content.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`path must be a non-empty string, got ${JSON.stringify(path)}`);
  }
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
    throw new TypeError(
      `data for ${path} must be a string or a Uint8Array, got ${Object.prototype.toString.call(data)}`,
    );
  }
  const dir = dirname(path);
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  counter = (counter + 1) % 0x7fffffff;
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${counter.toString(36)}`);
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(tmp, 'wx');
    try {
      let offset = 0;
      while (offset < bytes.byteLength) {
        offset += writeSync(fd, bytes, offset, bytes.byteLength - offset);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // no temporary file to remove (its folder is not one): the first error is the reason
    }
    throw new Error(`cannot write ${path} (${reasonOf(err)})`, { cause: err });
  }
  syncFolder(dir);
}
