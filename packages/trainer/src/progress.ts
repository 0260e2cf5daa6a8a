/**
 * Run logging: one JSON object per step appended to `log.jsonl` in the run directory,
 * and a progress line on the terminal (a redrawn bar on a TTY, plain lines otherwise).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { appendLogRecord } from '@ediy/core/node';
import { fsCall } from './run-dir.js';
import type { PhaseTimings } from './step.js';

/** One logged step. Loss terms are named as the config names them (`byol`, `r-dem`, ...). */
export interface StepRecord {
  /** Optimiser step, 1-based. */
  step: number;
  /** Epoch the step's data came from, 0-based. */
  epoch: number;
  /** The weighted total loss (Eq. 3). */
  loss: number;
  /** Each term before weighting. */
  terms: Record<string, number>;
  /** Learning rate used at this step. */
  lr: number;
  /** EMA momentum tau(k) of this step's target update (k = step - 1, BYOL's schedule). */
  tau: number;
  /** Training throughput of this step, images per second (each image gives two views). */
  imagesPerSec: number;
  /** Seconds since the run (or the resumed part of it) started. */
  elapsedSec: number;
  /** Milliseconds per phase of the step, as the training thread saw them (summed over micro-batches). */
  phases: PhaseTimings;
  /** The kNN monitor's measurement, at the steps it runs ({@link PretrainOptions.monitor}). */
  monitor?: { knnTop1: number; ms: number };
}

/** Appends step records to a JSONL file. */
export class JsonlLog {
  /** @param path - the file; its folder is created. */
  constructor(readonly path: string) {
    fsCall('create the folder of', path, () => mkdirSync(dirname(path), { recursive: true }));
  }

  /** Appends one record as a line (`@ediy/core/node`'s `appendLogRecord`). */
  write(record: object): void {
    appendLogRecord(this.path, record);
  }
}

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600)
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Where progress goes: a stream with an optional TTY flag (process.stderr by default). */
export interface ProgressStream {
  /** Writes text. */
  write(text: string): unknown;
  /** True on a terminal: the bar is redrawn in place. */
  isTTY?: boolean;
}

/** A progress display for a run of `total` steps. */
export class Progress {
  private lastPlain = 0;

  /**
   * @param label - shown before the bar (e.g. the row name).
   * @param total - steps in the run.
   * @param stream - where to draw; a non-TTY stream gets a plain line every `plainEvery` steps.
   * @param plainEvery - steps between plain lines when not a TTY.
   */
  constructor(
    readonly label: string,
    readonly total: number,
    private readonly stream: ProgressStream = process.stderr,
    private readonly plainEvery = Math.max(1, Math.round(total / 20)),
  ) {}

  /** Shows a step's record; `etaSec` is the estimated time left. */
  update(record: StepRecord, etaSec: number): void {
    const terms = Object.entries(record.terms)
      .map(([k, v]) => `${k} ${v.toFixed(4)}`)
      .join(' ');
    const text = `${this.label} step ${record.step}/${this.total} loss ${record.loss.toFixed(4)} (${terms}) lr ${record.lr.toExponential(2)} ${record.imagesPerSec.toFixed(1)} img/s ETA ${formatDuration(etaSec)}`;
    if (this.stream.isTTY) {
      const width = 20;
      const filled = Math.round((width * record.step) / this.total);
      this.stream.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
      if (record.step >= this.total) this.stream.write('\n');
    } else if (
      record.step - this.lastPlain >= this.plainEvery ||
      record.step === this.total ||
      record.step === 1
    ) {
      this.lastPlain = record.step;
      this.stream.write(`${text}\n`);
    }
  }

  /** Writes a message on its own line. */
  message(text: string): void {
    this.stream.write(this.stream.isTTY ? `\r\x1b[2K${text}\n` : `${text}\n`);
  }
}
