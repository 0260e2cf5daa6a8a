/**
 * The logger hook of {@link pretrain}: a {@link TrainLogger} receives each step's
 * scalars (every loss term, the learning rate, tau, the throughput), the kNN monitor's
 * values when it runs, evaluation metrics and images, and is closed when the run ends
 * (finished, stopped by Ctrl-C or a signal, or failed). Plug in another sink (W&B, a
 * database) by implementing it; `log.jsonl` is written whatever loggers are given.
 */
import type { StepRecord } from '../progress.js';

/** A sink for a run's scalars and images. Calls may return a promise; it is awaited. */
export interface TrainLogger {
  /** Names the logger in errors (e.g. `tensorboard`). */
  readonly name: string;
  /**
   * Scalars of one step, by tag: see {@link stepScalars} for a step's tags; the kNN
   * monitor adds `monitor/knn_top1` and `monitor/knn_ms`; evaluation metrics come as
   * `eval/<metric>`.
   */
  scalars(step: number, values: Readonly<Record<string, number>>): void | Promise<void>;
  /** An image of a step, PNG-encoded (e.g. a saliency grid). Optional. */
  image?(step: number, tag: string, png: Uint8Array): void | Promise<void>;
  /** Ends the logger: flush and release what it holds. Called once, also after an error. */
  close(): void | Promise<void>;
}

/**
 * A step's scalars as loggers receive them: `loss` (the weighted total), `loss/<term>`
 * for each term before weighting (named as the config names it), `lr`, `tau` and
 * `throughput/images_per_sec`.
 */
export function stepScalars(record: StepRecord): Record<string, number> {
  const out: Record<string, number> = { loss: record.loss };
  for (const [term, value] of Object.entries(record.terms)) out[`loss/${term}`] = value;
  out.lr = record.lr;
  out.tau = record.tau;
  out['throughput/images_per_sec'] = record.imagesPerSec;
  return out;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Several loggers called as one: a logger that throws is named in the error
 * (`logger 'x' failed ...`), and {@link LoggerSet.close} closes each one even when an
 * earlier one fails.
 */
export class LoggerSet {
  private closed = false;
  private readonly list: TrainLogger[] = [];

  /**
   * @param loggers - the loggers, called in order.
   * @throws when one is not a {@link TrainLogger}, naming its index.
   */
  constructor(loggers: readonly TrainLogger[]) {
    if (!Array.isArray(loggers))
      throw new TypeError(`loggers must be an array of TrainLogger, got ${String(loggers)}`);
    loggers.forEach((l, i) => {
      if (!l || typeof l.scalars !== 'function' || typeof l.close !== 'function')
        throw new TypeError(
          `loggers[${i}] must be a TrainLogger ({ name, scalars(step, values), close() }), got ${String(l)}`,
        );
      if (typeof l.name !== 'string' || l.name === '')
        throw new TypeError(`loggers[${i}] must have a non-empty name, got ${String(l.name)}`);
    });
    this.list.push(...loggers);
  }

  /** The loggers, in the order they are called. */
  get loggers(): readonly TrainLogger[] {
    return this.list;
  }

  /** Adds a logger (called after the others, closed with them). */
  add(logger: TrainLogger): void {
    if (this.closed) throw new Error(`cannot add logger '${logger.name}': the loggers are closed`);
    this.list.push(logger);
  }

  private async each(what: string, call: (l: TrainLogger) => void | Promise<void>): Promise<void> {
    for (const l of this.list) {
      try {
        await call(l);
      } catch (err) {
        throw new Error(`logger '${l.name}' failed ${what}: ${describe(err)}`, { cause: err });
      }
    }
  }

  /** Sends scalars of `step` to every logger (one frozen copy: no logger changes another's). */
  scalars(step: number, values: Readonly<Record<string, number>>): Promise<void> {
    const frozen = Object.freeze({ ...values });
    return this.each(`logging the scalars of step ${step}`, (l) => l.scalars(step, frozen));
  }

  /** Sends an image to every logger that takes images. */
  image(step: number, tag: string, png: Uint8Array): Promise<void> {
    return this.each(`logging image '${tag}' of step ${step}`, (l) => l.image?.(step, tag, png));
  }

  /** Closes every logger once; the first failure is thrown after all were closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let first: Error | undefined;
    for (const l of this.list) {
      try {
        await l.close();
      } catch (err) {
        first ??= new Error(`logger '${l.name}' failed closing: ${describe(err)}`, { cause: err });
      }
    }
    if (first) throw first;
  }
}
