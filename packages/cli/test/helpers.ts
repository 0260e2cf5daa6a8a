import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
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

const made: string[] = [];

// Each test file that makes temporary folders removes them when it is done.
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed after the test file. */
export function tempDir(prefix = 'ediy-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Where the tests find Python for the independent TensorBoard decoder. */
export const PYTHON = '/usr/bin/python3';

/** An event of a TensorBoard file as tools/reference/tfevents_decode.py prints it. */
export interface DecodedEvent {
  step: number;
  wall_time: number;
  file_version?: string;
  scalars?: Record<string, number>;
  images?: Record<
    string,
    { height: number; width: number; colorspace: number; png_bytes: number; png_pixels: number }
  >;
}

/**
 * The events of every event file in `dir` (in file-name order), decoded by the
 * independent Python decoder, which checks every CRC and each image against its PNG.
 */
export function decodeEvents(dir: string): DecodedEvent[] {
  const decoder = new URL('../../../tools/reference/tfevents_decode.py', import.meta.url).pathname;
  return readdirSync(dir)
    .filter((f) => f.startsWith('events.out.tfevents.'))
    .sort()
    .flatMap((f) =>
      execFileSync(PYTHON, [decoder, join(dir, f)], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as DecodedEvent),
    );
}
