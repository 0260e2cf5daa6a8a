/**
 * How checkpoints and the cut-back log reach the disk, seen through the file-system calls
 * under them: each file goes through `@ediy/core/node`'s writeFileAtomic (a temporary
 * file beside it, fsync, rename), so a failure between the write and the rename, or a
 * full disk during the write, leaves the last good checkpoint whole and loadable, no
 * temporary file, and an error naming the file and the system's reason.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as nodeFs from 'node:fs';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '@ediy/backend';
import { BYOL_ROW, smoke, tempDir } from './helpers.js';

/** Faults to inject: given the path a call works on, the error it throws (or undefined). */
const faults = vi.hoisted(() => ({
  open: undefined as ((path: string) => Error | undefined) | undefined,
  mkdir: undefined as ((path: string) => Error | undefined) | undefined,
  write: undefined as ((path: string) => Error | undefined) | undefined,
  rename: undefined as ((from: string, to: string) => Error | undefined) | undefined,
  /** Every file flushed (fsync), in order. */
  synced: [] as string[],
}));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof nodeFs>();
  const paths = new Map<number, string>();
  const openSync = (path: nodeFs.PathLike, ...rest: unknown[]): number => {
    const err = faults.open?.(String(path));
    if (err) throw err;
    const fd = (fs.openSync as (p: nodeFs.PathLike, ...r: unknown[]) => number)(path, ...rest);
    paths.set(fd, String(path));
    return fd;
  };
  const writeSync = (fd: number, ...rest: unknown[]): number => {
    const err = faults.write?.(paths.get(fd) ?? '');
    if (err) throw err;
    return (fs.writeSync as (fd: number, ...r: unknown[]) => number)(fd, ...rest);
  };
  const fsyncSync = (fd: number): void => {
    faults.synced.push(paths.get(fd) ?? '');
    fs.fsyncSync(fd);
  };
  const renameSync = (from: nodeFs.PathLike, to: nodeFs.PathLike): void => {
    const err = faults.rename?.(String(from), String(to));
    if (err) throw err;
    fs.renameSync(from, to);
  };
  const mkdirSync = (path: nodeFs.PathLike, ...rest: unknown[]): string | undefined => {
    const err = faults.mkdir?.(String(path));
    if (err) throw err;
    return (fs.mkdirSync as (p: nodeFs.PathLike, ...r: unknown[]) => string | undefined)(
      path,
      ...rest,
    );
  };
  return { ...fs, openSync, writeSync, fsyncSync, renameSync, mkdirSync };
});

const { listCheckpoints, loadCheckpoint, pretrain, saveCheckpoint } = await import('@ediy/trainer');
const { truncateLog } = await import('@ediy/trainer/internal');

/** An error as Node's fs gives it for a full disk. */
function enospc(syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), {
    code: 'ENOSPC',
    errno: -28,
    syscall,
  });
}

/** An error as Node's fs gives it on a read-only file system. */
function erofs(syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EROFS: read-only file system, ${syscall} '${path}'`), {
    code: 'EROFS',
    errno: -30,
    syscall,
    path,
  });
}

/** Every file and folder under `dir`, relative to it. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
});

afterEach(() => {
  faults.open = undefined;
  faults.mkdir = undefined;
  faults.write = undefined;
  faults.rename = undefined;
  faults.synced.length = 0;
});

const config = smoke(BYOL_ROW, 2);

/** A model of two weights whose values depend on `k`, and a one-tensor optimiser state. */
function modelAt(k: number) {
  const w = [tf.fill([2, 3], k), tf.tensor1d([k, -k, 0.5])];
  return {
    models: {
      'online.backbone': {
        getWeights: () => w,
        weights: [{ originalName: 'conv/kernel' }, { originalName: 'bn/gamma' }],
      },
    },
    optimizer: [{ name: 'slot0/momentum', tensor: tf.fill([2, 3], -k) }],
    dispose: () => tf.dispose([...w]),
  };
}

async function save(dir: string, k: number): Promise<string> {
  const m = modelAt(k);
  try {
    return await saveCheckpoint(
      dir,
      { step: k, dataPosition: { epoch: 0, index: k }, rng: [1, 2, 3, k], config },
      m.models,
      m.optimizer,
      2,
    );
  } finally {
    m.dispose();
    tf.dispose(m.optimizer.map((o) => o.tensor));
  }
}

/** The checkpoint of step `k` loads and holds what {@link modelAt} saved. */
async function expectCheckpointOf(dir: string, k: number): Promise<void> {
  const ckpt = loadCheckpoint(dir);
  try {
    expect(ckpt.state.step).toBe(k);
    const [kernel, gamma] = ckpt.weights['online.backbone'] as tf.Tensor[];
    expect(Array.from(await (kernel as tf.Tensor).data())).toEqual(new Array(6).fill(k));
    expect(Array.from(await (gamma as tf.Tensor).data())).toEqual([k, -k, 0.5]);
    expect(Array.from(await (ckpt.optimizer[0]?.tensor as tf.Tensor).data())).toEqual(
      new Array(6).fill(-k),
    );
  } finally {
    tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);
  }
}

describe('saveCheckpoint', () => {
  it('writes each file through the atomic writer: temporary file, fsync, then rename', async () => {
    const dir = tempDir('ckpt-atomic');
    const first = await save(dir, 1);
    // each of the two files was flushed as a temporary file beside its name, then renamed
    const tmp = join(dir, `.tmp-step-00000001-${process.pid}`);
    const files = faults.synced.filter((p) => p.startsWith(`${tmp}${sep}`));
    expect(files).toHaveLength(2);
    expect(files[0]?.startsWith(join(tmp, '.tensors.safetensors.tmp-'))).toBe(true);
    expect(files[1]?.startsWith(join(tmp, '.state.json.tmp-'))).toBe(true);
    await expectCheckpointOf(first, 1);
    const before = readFileSync(join(first, 'state.json'), 'utf8');

    // a failure between the write of state.json and its rename (a crash, a full folder, EIO)
    faults.rename = (from) =>
      from.includes('.state.json.tmp-')
        ? Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' })
        : undefined;
    await expect(save(dir, 2)).rejects.toThrow(
      `cannot write ${join(dir, `.tmp-step-00000002-${process.pid}`, 'state.json')} (EIO: i/o error, rename)`,
    );
    // the previous checkpoint is intact, still the newest, and nothing half-written is left
    expect(listCheckpoints(dir)).toEqual([1]);
    expect(readFileSync(join(first, 'state.json'), 'utf8')).toBe(before);
    await expectCheckpointOf(first, 1);
    expect(tree(dir)).toEqual([
      'step-00000001',
      join('step-00000001', 'state.json'),
      join('step-00000001', 'tensors.safetensors'),
    ]);
  });

  it('on a full disk names the file, keeps the last good checkpoint and leaves no partial file', async () => {
    const dir = tempDir('ckpt-enospc');
    const good = await save(dir, 1);
    for (const file of ['tensors.safetensors', 'state.json']) {
      faults.write = (path) => (path.includes(`.${file}.tmp-`) ? enospc('write') : undefined);
      await expect(save(dir, 2)).rejects.toThrow(
        `cannot write ${join(dir, `.tmp-step-00000002-${process.pid}`, file)} (ENOSPC: no space left on device, write)`,
      );
      faults.write = undefined;
      expect(listCheckpoints(dir)).toEqual([1]);
      await expectCheckpointOf(good, 1);
      expect(tree(dir)).toEqual([
        'step-00000001',
        join('step-00000001', 'state.json'),
        join('step-00000001', 'tensors.safetensors'),
      ]);
    }
    // with space again the next checkpoint is written as usual
    await expectCheckpointOf(await save(dir, 2), 2);
    expect(listCheckpoints(dir)).toEqual([1, 2]);
  });
});

describe('a full disk during a run', () => {
  it("stops the run naming the checkpoint's file; the rerun resumes from the last good checkpoint", async () => {
    const whole = await pretrain(config, { runDir: tempDir('enospc-whole'), progress: null });
    const runDir = tempDir('enospc-run');
    const ckpts = join(runDir, 'checkpoints');
    faults.write = (path) =>
      path.includes(`${join(ckpts, '.tmp-step-00000002-')}`) &&
      path.includes('.tensors.safetensors.tmp-')
        ? enospc('write')
        : undefined;
    await expect(pretrain(config, { runDir, progress: null })).rejects.toThrow(
      new RegExp(
        `^cannot write ${join(ckpts, '.tmp-step-00000002-\\d+', 'tensors.safetensors').replace(/\./g, '\\.')} \\(ENOSPC: no space left on device`,
      ),
    );
    faults.write = undefined;
    expect(listCheckpoints(ckpts)).toEqual([1]);
    expect(tree(ckpts)).toEqual([
      'step-00000001',
      join('step-00000001', 'state.json'),
      join('step-00000001', 'tensors.safetensors'),
    ]);
    const resumed = await pretrain(config, { runDir, progress: null });
    expect(resumed.records.map((r) => [r.step, r.loss])).toEqual(
      whole.records.slice(1).map((r) => [r.step, r.loss]),
    );
  });
});

describe('a read-only run directory', () => {
  it('is named with the system reason (EROFS), for a new run and for a resume', async () => {
    const parent = tempDir('erofs');
    const runDir = join(parent, 'run');
    faults.mkdir = (path) => (path === runDir ? erofs('mkdir', path) : undefined);
    await expect(pretrain(config, { runDir, progress: null })).rejects.toThrow(
      `cannot create the run directory ${runDir} (EROFS: read-only file system, mkdir '${runDir}')`,
    );
    faults.mkdir = undefined;
    await pretrain(config, { runDir, progress: null, stopAfter: 1 });
    // the folder turned read-only: the resume cannot write config.json, and says so
    faults.open = (path) =>
      path.startsWith(join(runDir, '.config.json.tmp-')) ? erofs('open', path) : undefined;
    await expect(pretrain(config, { runDir, progress: null })).rejects.toThrow(
      `cannot write ${join(runDir, 'config.json')} (EROFS: read-only file system, open '${join(runDir, '.config.json.tmp-')}`,
    );
    faults.open = undefined;
    expect(listCheckpoints(join(runDir, 'checkpoints'))).toEqual([1]);
  });
});

describe('truncateLog', () => {
  it('on a full disk names the log and leaves it as it was, with no temporary file', () => {
    const dir = tempDir('log-enospc');
    const path = join(dir, 'log.jsonl');
    const text = '{"step":1}\n{"step":2}\n{"step":3}\n';
    writeFileSync(path, text);
    faults.write = (p) => (p.includes('.log.jsonl.tmp-') ? enospc('write') : undefined);
    expect(() => truncateLog(path, 1)).toThrow(
      `cannot write ${path} (ENOSPC: no space left on device, write)`,
    );
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(tree(dir)).toEqual(['log.jsonl']);
    faults.write = undefined;
    expect(truncateLog(path, 1)).toBe(2);
    expect(readFileSync(path, 'utf8')).toBe('{"step":1}\n');
    expect(existsSync(path)).toBe(true);
  });
});
