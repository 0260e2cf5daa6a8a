/**
 * The parts of {@link pretrain}'s loop that touch the world: the run directory (a fresh
 * run moved clear of an earlier one, the config compared with the run's), damaged
 * checkpoints moved aside, and Ctrl-C / an AbortSignal turned into a request to stop.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  holdsRun,
  listCheckpoints,
  readRunConfigText,
  runConfigText,
  runPaths,
} from '@ediy/core/node';
import { firstDifference, fsCall, moveRunAside } from './run-dir.js';

/** The paths of a run directory, and the config text its `config.json` holds. */
export interface RunFiles {
  /** The run directory (absolute). */
  runDir: string;
  /** Its checkpoints' folder. */
  ckptRoot: string;
  /** Its `config.json`. */
  configPath: string;
  /** The text `config.json` gets for this config. */
  configText: string;
}

/**
 * Makes `runDir` ready for a run of `config`. Without `resume` an earlier run there is
 * moved aside (said through `warn`); with it, a run directory holding checkpoints must
 * hold this config's `config.json`, else the error names the first difference.
 */
export function prepareRunDir(
  config: unknown,
  runDir: string,
  resume: boolean,
  warn: (message: string) => void,
): RunFiles {
  const paths = runPaths(runDir);
  const files = {
    runDir,
    ckptRoot: paths.checkpoints,
    configPath: paths.config,
    configText: runConfigText(config),
  };
  const { ckptRoot, configPath, configText } = files;
  if (!resume && existsSync(runDir) && holdsRun(runDir)) {
    const aside = moveRunAside(runDir);
    warn(`a fresh run: the earlier run in ${runDir} was moved to ${aside}`);
  }
  fsCall('create the run directory', runDir, () => mkdirSync(runDir, { recursive: true }));
  const previous =
    resume && listCheckpoints(ckptRoot).length > 0 ? readRunConfigText(runDir) : undefined;
  if (previous !== undefined) {
    if (previous !== configText) {
      let where = '';
      try {
        const d = firstDifference(config, JSON.parse(previous));
        if (d) where = `: ${d.replace('there)', `in ${configPath})`)}`;
      } catch {
        where = `: ${configPath} is not valid JSON`;
      }
      throw new Error(
        `${runDir} holds a run of another config${where}; resume it with that config, start afresh (resume: false, --fresh) or choose another run directory`,
      );
    }
  }
  return files;
}

/** Moves each damaged checkpoint to `damaged-step-N` beside it, with a warning naming why. */
export function moveDamagedAside(
  ckptRoot: string,
  damaged: ReadonlyArray<{ dir: string; reason: string }>,
  resumeFrom: string | undefined,
  warn: (message: string) => void,
): void {
  for (const { dir, reason } of damaged) {
    const aside = join(ckptRoot, `damaged-${basename(dir)}`);
    fsCall('move the damaged checkpoint to', aside, () => {
      rmSync(aside, { recursive: true, force: true });
      renameSync(dir, aside);
    });
    warn(`${reason}; moved it to ${aside} and resuming from the previous checkpoint ${resumeFrom}`);
  }
}

/** A request to stop after the current step, from Ctrl-C or an AbortSignal. */
export interface Interrupts {
  /** Whether a stop was asked for. */
  readonly requested: boolean;
  /** Removes the handlers. */
  close(): void;
}

/**
 * Watches for Ctrl-C (SIGINT, unless `handleSigint` is false) and `signal`: the first
 * sets `requested` and calls `onRequest`; a second Ctrl-C quits at once with code 130.
 */
export function watchInterrupts(
  options: { signal?: AbortSignal; handleSigint?: boolean },
  onRequest: () => void,
): Interrupts {
  const state = { requested: options.signal?.aborted ?? false };
  const onInterrupt = (): void => {
    state.requested = true;
    onRequest();
  };
  const quit = (): never => process.exit(130);
  const onSigint = (): void => {
    onInterrupt();
    // A second Ctrl-C ends the process, as without this handler.
    process.once('SIGINT', quit);
  };
  if (options.handleSigint !== false) process.once('SIGINT', onSigint);
  options.signal?.addEventListener('abort', onInterrupt, { once: true });
  return {
    get requested() {
      return state.requested;
    },
    close() {
      process.removeListener('SIGINT', onSigint);
      process.removeListener('SIGINT', quit);
      options.signal?.removeEventListener('abort', onInterrupt);
    },
  };
}
