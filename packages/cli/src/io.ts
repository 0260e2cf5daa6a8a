/**
 * Where the command writes: standard output for results, standard error for progress
 * and messages. Tests pass their own sinks.
 */
import type { ProgressStream } from '@ediy/trainer';

/** The output streams of a command run. */
export interface CliIO {
  /** Results (metrics, paths written). */
  stdout: ProgressStream;
  /** Progress, notes and errors. */
  stderr: ProgressStream;
}

/** The process's own streams. */
export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr };
}

/** Writes one line to a stream. */
export function println(stream: ProgressStream, text = ''): void {
  stream.write(`${text}\n`);
}
