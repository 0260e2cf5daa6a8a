/**
 * The two kinds of failure the command reports: a usage error (a bad command line,
 * exit code 2) and anything else (exit code 1).
 */

/** A bad command line: unknown command, flag or row, a bad flag value, a missing argument. */
export class UsageError extends Error {
  /**
   * @param message - names the bad flag or value and what was expected.
   * @param command - the command whose help to point to (`pretrain`, ...), if any.
   */
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit code of a usage error. */
export const EXIT_USAGE = 2;

/** Exit code of a failure (bad file, training error, ...). */
export const EXIT_FAILURE = 1;

/** Exit code of a run stopped by Ctrl-C (128 + SIGINT, as a shell reports it); a rerun resumes it. */
export const EXIT_INTERRUPTED = 130;
