import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIO } from '@ediy/cli';

/** Streams that collect what a command writes. */
export function captureIO(): CliIO & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    out: () => out,
    err: () => err,
  };
}

/** A fresh temporary folder. */
export function tempDir(prefix = 'ediy-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
