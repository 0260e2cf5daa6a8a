/**
 * File reading with errors that name the file: a missing path, an unreadable file and a
 * corrupt gzip stream each say which file and what was expected.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';

/** Whether `bytes` starts with the gzip magic number 0x1f 0x8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Reads a whole file.
 * @param what - what the file should be, for the error message (e.g. "an IDX image file").
 * @throws `<path>: file not found (expected <what>)` and the like.
 */
export async function readFileNamed(path: string, what: string): Promise<Uint8Array> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`path of ${what} must be a non-empty string, got ${JSON.stringify(path)}`);
  }
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new Error(`${path}: file not found (expected ${what})`, { cause: err });
    if (code === 'EISDIR')
      throw new Error(`${path}: is a directory (expected ${what})`, { cause: err });
    throw new Error(`${path}: cannot read ${what}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Reads a file and gunzips it when it starts with the gzip magic 0x1f8b (whatever its
 * name); other files are returned as they are.
 * @throws naming the file when the gzip stream is corrupt or truncated.
 */
export async function readMaybeGzip(path: string, what: string): Promise<Uint8Array> {
  const raw = await readFileNamed(path, what);
  if (!isGzip(raw)) return raw;
  try {
    return gunzipSync(raw);
  } catch (err) {
    throw new Error(
      `${path}: gzip data is corrupt or truncated (${(err as Error).message}); expected a complete gzip stream of ${what}`,
      { cause: err },
    );
  }
}
