/**
 * Reads a run folder as `ediy pretrain` writes it (`checkpoints/step-NNNNNNNN/{state.json,
 * tensors.safetensors}`, `log.jsonl`, `eval.json`) into what the page needs: the online
 * backbone's weights of the newest checkpoint (and the teacher's, when the run names a
 * teacher run), the loss curve and the evaluation. Node only.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { readSafetensors, writeSafetensors, type SafeTensor } from '@ediy/backbones/interop';
import {
  RunDirError,
  checkpointPaths,
  newestCheckpoint,
  readCheckpointState,
  readEvalRecord,
  readLog,
  runPaths,
} from '@ediy/core/node';
import type { CheckpointState } from '@ediy/trainer';
import type { LossPoint, ViewerBackbone, ViewerRun } from './site.js';

/** A run folder that cannot be shown: names the path and what was expected there. */
export class RunFolderError extends Error {
  override name = 'RunFolderError';
}

/** A backbone taken out of a checkpoint: safetensors bytes with tensors `0..count-1`. */
export interface ExtractedBackbone {
  /** The file. */
  bytes: Uint8Array;
  /** How many tensors. */
  count: number;
  /** The architecture (the checkpoint config's `scale.backbone`). */
  backbone: ViewerBackbone;
  /** The checkpoint's step. */
  step: number;
  /** The checkpoint folder. */
  checkpoint: string;
  /** The checkpoint's config. */
  config: CheckpointState['config'];
}

/** A run folder read for the viewer: the page's description and the weight files. */
export interface RunFolder {
  /** What `site.json` says of the run (its URLs filled in by the site). */
  run: Omit<ViewerRun, 'id' | 'backbone' | 'teacher'> & {
    teacher?: Omit<NonNullable<ViewerRun['teacher']>, 'url'>;
    backbone: Omit<ViewerRun['backbone'], 'url'>;
  };
  /** The online backbone's weights. */
  backbone: Uint8Array;
  /** The teacher's weights, when the run names a teacher run. */
  teacher?: Uint8Array;
  /**
   * The run's teacher model directory (config `teacher.modelDir`), which `buildSite`
   * reads as an exported model, when the directory is there.
   */
  teacherModelDir?: string;
}

/** A run folder's label: `table1-ediy` for `runs/table1-ediy/seed-0`. */
export function runLabel(dir: string): string {
  const name = basename(resolve(dir));
  return /^seed-\d+$/.test(name) ? basename(dirname(resolve(dir))) : name;
}

/** Runs a read of the run directory, its RunDirError (naming the file) turned into a RunFolderError. */
function folderRead<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof RunDirError) throw new RunFolderError(err.message, { cause: err });
    throw err;
  }
}

/**
 * The online backbone of a run folder's newest checkpoint.
 * @throws RunFolderError naming the path and what was expected there.
 */
export function extractBackbone(runDir: string, key = 'online.backbone'): ExtractedBackbone {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory())
    throw new RunFolderError(
      `${runDir}: not a folder; expected a run folder of 'ediy pretrain' (with checkpoints/step-*/state.json)`,
    );
  const ckpts = runPaths(runDir).checkpoints;
  const dir = newestCheckpoint(runDir);
  if (!dir)
    throw new RunFolderError(
      `${runDir}: no checkpoint; expected ${join(ckpts, 'step-NNNNNNNN', 'state.json')} (a run folder of 'ediy pretrain')`,
    );
  const { state: statePath, tensors: tensorPath } = checkpointPaths(dir);
  const state = folderRead(() => readCheckpointState(dir)) as unknown as CheckpointState;
  const names = state.weights[key];
  const backbone = state.config?.scale?.backbone;
  if (!Array.isArray(names) || !backbone)
    throw new RunFolderError(
      `${statePath}: expected weights of ${key} and config.scale.backbone in the checkpoint state`,
    );
  if (!existsSync(tensorPath))
    throw new RunFolderError(
      `${tensorPath}: checkpoint tensors not found (expected beside ${statePath})`,
    );
  const stored = readSafetensors(new Uint8Array(readFileSync(tensorPath)), tensorPath);
  const picked = new Map<string, SafeTensor>();
  names.forEach((name, i) => {
    const t = stored.get(`${key}/${i}`);
    if (!t) throw new RunFolderError(`${tensorPath}: tensor ${key}/${i} (${name}) missing`);
    picked.set(String(i), t);
  });
  return {
    bytes: writeSafetensors(picked),
    count: names.length,
    backbone: {
      depth: backbone.depth,
      stem: backbone.stem,
      widthMultiplier: backbone.widthMultiplier,
    },
    step: state.step,
    checkpoint: dir,
    config: state.config,
  };
}

/** The loss curve of a `log.jsonl` (lines that are not step records are skipped). */
export function readLossLog(path: string): LossPoint[] {
  // not strict: a line cut short by a crash, or a record without a loss, is skipped
  return folderRead(() => readLog(path, { numeric: ['loss'] })).map((r) => {
    const terms: Record<string, number> = {};
    if (r.terms && typeof r.terms === 'object')
      for (const [k, v] of Object.entries(r.terms)) if (typeof v === 'number') terms[k] = v;
    return { step: r.step, loss: r.loss as number, terms };
  });
}

/**
 * Reads a run folder for the viewer.
 * @throws RunFolderError naming the path and what was expected when it is not a run
 *   folder (no checkpoint), its checkpoint is incomplete, or its `eval.json` is not JSON.
 */
export function readRunFolder(runDir: string): RunFolder {
  const own = extractBackbone(runDir);
  const config = own.config;
  const run: RunFolder['run'] = {
    label: runLabel(runDir),
    dir: runDir,
    name: config.name,
    imageSize: config.scale.imageSize,
    regionLosses: config.method.regionLosses.map((t) => ({
      loss: t.loss,
      weight: t.weight,
      matcher: t.matcher,
    })),
    byolWeight: config.method.byolWeight,
    backbone: {
      count: own.count,
      backbone: own.backbone,
      step: own.step,
      checkpoint: own.checkpoint,
    },
    log: readLossLog(runPaths(runDir).log),
  };
  const evalPath = runPaths(runDir).eval;
  if (existsSync(evalPath)) {
    const e = folderRead(() => readEvalRecord(evalPath));
    // a metric the data could not give (NaN, written as null) is left out, as before
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(e.metrics)) if (Number.isFinite(v)) metrics[k] = v;
    run.eval = { metrics, ...(typeof e.steps === 'number' ? { steps: e.steps } : {}) };
  }
  const out: RunFolder = { run, backbone: own.bytes };
  const spec = config.teacher;
  if (spec && 'run' in spec) {
    const teacherDir = isAbsolute(spec.run) ? spec.run : resolve(spec.run);
    if (existsSync(teacherDir)) {
      const t = extractBackbone(teacherDir);
      run.teacher = {
        label: runLabel(teacherDir),
        count: t.count,
        backbone: t.backbone,
        step: t.step,
        checkpoint: t.checkpoint,
      };
      out.teacher = t.bytes;
    } else {
      run.teacherNote = `its teacher run ${spec.run} is not here; pairs are chosen by its own backbone`;
    }
  } else if (spec && 'modelDir' in spec) {
    const dir = isAbsolute(spec.modelDir) ? spec.modelDir : resolve(spec.modelDir);
    if (existsSync(dir)) out.teacherModelDir = dir;
    else
      run.teacherNote = `its teacher model directory ${spec.modelDir} is not here; pairs are chosen by its own backbone`;
  }
  return out;
}
