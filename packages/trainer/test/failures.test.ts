/**
 * The failures found trying to break a run: non-finite values, damaged checkpoints, a
 * fresh run over an older one, a log longer than its checkpoint, Ctrl-C, file-system
 * errors, and the RNG state's stored form.
 */
import * as tf from '@tensorflow/tfjs-core';
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@ediy/backend';
import { byolViewParams } from '@ediy/augment';
import { readSafetensors, writeSafetensors } from '@ediy/backbones/interop';
import { registerRegionLoss, type RegionLoss } from '@ediy/losses';
import { LARS, emaTau } from '@ediy/optim';
import {
  NonFiniteTensorError,
  PretrainInterruptedError,
  assertWeightsFinite,
  assertWeightsFiniteAsync,
  buildOnline,
  buildTarget,
  disposeModels,
  listCheckpoints,
  loadCheckpoint,
  pretrain,
  saveCheckpoint,
  trainStep,
  type ExperimentConfig,
  type StepRecord,
} from '@ediy/trainer';
import { assertFinite, namedModels, writeFileDurably } from '@ediy/trainer/internal';
import { assertFiniteAsync } from '../src/finite.js';
import { BYOL_ROW, EDIY_RANDOM_ROW, smoke, tempDir } from './helpers.js';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
});

const readLog = (runDir: string): StepRecord[] =>
  readFileSync(join(runDir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StepRecord);

const disposeCheckpoint = (ckpt: ReturnType<typeof loadCheckpoint>) =>
  tf.dispose([...Object.values(ckpt.weights).flat(), ...ckpt.optimizer.map((o) => o.tensor)]);

declare module '@ediy/losses' {
  interface RegionLossRegistry {
    /** A test loss whose gradient turns NaN at its second call. */
    'nan-gradient-at-step-2': RegionLoss;
  }
}

describe('non-finite values', () => {
  it('a NaN gradient with a finite loss stops the run at its step, naming the tensor, before its checkpoint', async () => {
    let calls = 0;
    // sqrt(relu(0 * x)) is 0, its gradient 0 * relu'(0) * 1/(2 sqrt(0)) = 0 * Inf = NaN
    registerRegionLoss('nan-gradient-at-step-2', (inputs) => {
      calls += 1;
      const x = tf.mean(inputs.local[0]);
      return (calls >= 2 ? tf.sqrt(tf.relu(tf.mul(x, 0))) : tf.mul(x, 0)) as tf.Scalar;
    });
    const runDir = tempDir('nan-grad');
    const config = smoke(
      {
        name: 'nan-grad',
        method: {
          byolWeight: 1,
          regionLosses: [{ loss: 'nan-gradient-at-step-2', weight: 1, matcher: 'random' }],
          localPredictor: true,
        },
      },
      4,
    );
    const error = await pretrain(config, { runDir, progress: null }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteTensorError);
    const e = error as NonFiniteTensorError;
    expect(e.step).toBe(2);
    expect(e.tensor).toMatch(/^gradient of online\.(localProjector|backbone) /);
    expect(e.nan).toBeGreaterThan(0);
    expect(e.message).toMatch(
      /^gradient of online\.\S+ \S+ holds \d+ NaN and \d+ infinite values \(of \d+\) at step 2; stopping before this step's checkpoint is written/,
    );
    const ckpts = join(runDir, 'checkpoints');
    expect(listCheckpoints(ckpts)).toEqual([1]);
    disposeCheckpoint(loadCheckpoint(join(ckpts, 'step-00000001')));
  });

  const stepSetup = (config: ExperimentConfig) => {
    const online = buildOnline(config);
    const target = buildTarget(config, online);
    const optimizer = new LARS({ learningRate: 0 });
    const views = byolViewParams(config.scale.imageSize, { scaleBlurSigma: true });
    const done = () => {
      disposeModels(Object.values(namedModels(online, target)));
      optimizer.dispose();
    };
    return { context: { config, nets: { online, target }, optimizer, views }, done };
  };
  const size = 20;

  it('a weight made non-finite is named after the update, and an infinite input pixel before the step', async () => {
    const config = smoke(EDIY_RANDOM_ROW, 1);
    const { context, done } = stepSetup(config);
    const input = (images: tf.Tensor4D) => ({
      step: 4,
      lr: 0.01,
      tau: 0.99,
      rng: new Rng(1),
      batch: () => ({ images, dispose: () => images.dispose() }),
    });
    // a BatchNorm moving mean of the target: the training-mode forward pass does not read it,
    // so the loss and the gradients stay finite and only the weight check can see it
    const bn = context.nets.target.backbone.weights.find((w) =>
      w.originalName.includes('moving_mean'),
    );
    expect(bn).toBeDefined();
    bn!.write(tf.fill(bn!.shape as number[], Number.NaN));
    const good = tf.randomUniform([8, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    await expect(trainStep(context, input(good))).rejects.toThrow(
      new RegExp(
        `^weight target\\.backbone ${bn!.originalName.replace(/[/]/g, '\\/')} after the update holds ${bn!.shape[0]} NaN and 0 infinite values \\(of ${bn!.shape[0]}\\) at step 5`,
      ),
    );
    const bad = tf.tidy(() =>
      tf.where(
        tf.equal(tf.reshape(tf.range(0, 8 * size * size * 3), [8, size, size, 3]), 7),
        tf.fill([8, size, size, 3], Number.POSITIVE_INFINITY),
        tf.randomUniform([8, size, size, 3]),
      ),
    ) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    await expect(trainStep(context, input(bad))).rejects.toThrow(
      'input images of micro-batch 0 holds 0 NaN and 1 infinite values (of 9600) at step 5',
    );
    expect(tf.memory().numTensors).toBe(before - 1); // the batch was disposed, nothing else left
    done();
  });

  it('assertFinite names the first bad tensor of a list and reads nothing else in full', () => {
    const ok = tf.tensor1d([3e38, 3e38, 3e38]); // its sum overflows, its values are finite
    const nan = tf.tensor1d([1, Number.NaN, Number.NaN]);
    const inf = tf.tensor1d([Number.NEGATIVE_INFINITY]);
    expect(() =>
      assertFinite(3, [
        ['a', ok],
        ['b', nan],
        ['c', inf],
      ]),
    ).toThrow('b holds 2 NaN and 0 infinite values (of 3) at step 3');
    expect(() => assertFinite(3, [['a', ok]])).not.toThrow();
    tf.dispose([ok, nan, inf]);
  });

  it('the finiteness checks read the same way synchronously and asynchronously, leaving nothing', async () => {
    const ok = tf.tensor1d([3e38, 3e38]);
    const inf = tf.tensor1d([Number.POSITIVE_INFINITY, 1, Number.NaN]);
    const before = tf.memory().numTensors;
    const message = 'b holds 1 NaN and 1 infinite values (of 3) at step 7';
    const list = [['a', ok] as const, ['b', inf] as const];
    expect(() => assertFinite(7, list)).toThrow(message);
    await expect(assertFiniteAsync(7, list)).rejects.toThrow(message);
    await expect(assertFiniteAsync(7, [['a', ok]])).resolves.toBeUndefined();
    const model = {
      weights: [
        { originalName: 'w0', read: () => ok },
        { originalName: 'w1', read: () => inf },
      ],
    };
    const named = 'teacher: weight w1 holds 1 NaN and 1 infinite values (of 3)';
    expect(() => assertWeightsFinite(model, 'teacher')).toThrow(named);
    await expect(assertWeightsFiniteAsync(model, 'teacher')).rejects.toThrow(named);
    await expect(
      assertWeightsFiniteAsync({ weights: [model.weights[0]!] }, 'teacher'),
    ).resolves.toBeUndefined();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ok, inf]);
  });
});

/** Writes NaN into one value of a checkpoint's tensor file (the file stays well formed). */
function poison(checkpointDir: string, key: string): void {
  const path = join(checkpointDir, 'tensors.safetensors');
  const tensors = readSafetensors(new Uint8Array(readFileSync(path)), path);
  const t = tensors.get(key);
  if (!t) throw new Error(`no tensor ${key} in ${path}`);
  (t.data as Float32Array)[0] = Number.NaN;
  writeFileSync(path, writeSafetensors(tensors));
}

describe('checkpoints', () => {
  it('a checkpoint with a NaN tensor does not load, naming the tensor; resume moves it aside with a warning and uses the previous one', async () => {
    const config = smoke(BYOL_ROW, 4);
    const whole = await pretrain(config, { runDir: tempDir('nan-whole'), progress: null });
    const runDir = tempDir('nan-ckpt');
    await pretrain(config, { runDir, progress: null, stopAfter: 3 });
    const ckpts = join(runDir, 'checkpoints');
    expect(listCheckpoints(ckpts)).toEqual([2, 3]);
    poison(join(ckpts, 'step-00000003'), 'target.projector/0');
    expect(() => loadCheckpoint(join(ckpts, 'step-00000003'))).toThrow(
      `${join(ckpts, 'step-00000003', 'tensors.safetensors')}: tensor target.projector/0 (`,
    );
    expect(() => loadCheckpoint(join(ckpts, 'step-00000003'))).toThrow(
      /holds 1 NaN and 0 infinite values \(of \d+\): the checkpoint is damaged/,
    );
    const warnings: string[] = [];
    const resumed = await pretrain(config, {
      runDir,
      progress: null,
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('tensor target.projector/0');
    expect(warnings[0]).toContain(
      `moved it to ${join(ckpts, 'damaged-step-00000003')} and resuming from the previous checkpoint ${join(ckpts, 'step-00000002')}`,
    );
    expect(existsSync(join(ckpts, 'damaged-step-00000003'))).toBe(true);
    expect(resumed.records.map((r) => r.step)).toEqual([3, 4]);
    expect(resumed.records.map((r) => r.loss)).toEqual(whole.records.slice(2).map((r) => r.loss));
    // the log holds each step once, as the uninterrupted run's
    expect(readLog(runDir).map((r) => [r.step, r.loss])).toEqual(
      whole.records.map((r) => [r.step, r.loss]),
    );
  });

  it('refuses to resume when no checkpoint loads, naming each, and moves nothing', async () => {
    const runDir = tempDir('all-damaged');
    await pretrain(smoke(BYOL_ROW, 1), { runDir, progress: null });
    const dir = join(runDir, 'checkpoints', 'step-00000001');
    poison(dir, 'online.backbone/0');
    const before = tf.memory().numTensors;
    await expect(pretrain(smoke(BYOL_ROW, 1), { runDir, progress: null })).rejects.toThrow(
      `no checkpoint under ${join(runDir, 'checkpoints')} can be restored: ${join(dir, 'tensors.safetensors')}: tensor online.backbone/0`,
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(existsSync(dir)).toBe(true);
  });

  it('a resume whose teacher cannot be loaded leaves no tensors behind', async () => {
    const teacherDir = tempDir('gone-teacher');
    await pretrain(smoke(BYOL_ROW, 1), { runDir: teacherDir, progress: null });
    const config = smoke(BYOL_ROW, 2, { teacher: { run: teacherDir } });
    const runDir = tempDir('student-of-gone');
    await pretrain(config, { runDir, progress: null, stopAfter: 1 });
    rmSync(join(teacherDir, 'checkpoints'), { recursive: true });
    const before = tf.memory().numTensors;
    await expect(pretrain(config, { runDir, progress: null })).rejects.toThrow(
      `teacher run ${teacherDir} has no checkpoint`,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stores the RNG state as four unsigned words, whatever the signs it was given', async () => {
    const dir = tempDir('rng');
    const config = smoke(BYOL_ROW, 1);
    const signed = [-1, 5, -2147483648, 7] as const;
    const path = await saveCheckpoint(
      dir,
      { step: 1, dataPosition: { epoch: 0, index: 0 }, rng: signed, config },
      {},
      [],
      1,
    );
    const state = JSON.parse(readFileSync(join(path, 'state.json'), 'utf8'));
    expect(state.rng).toEqual([4294967295, 5, 2147483648, 7]);
    // both forms are the same stream
    expect(Rng.fromState(state.rng).nextUint32()).toBe(Rng.fromState(signed).nextUint32());
  });

  it('names the path and the real cause of a file-system error', async () => {
    expect(() => writeFileDurably('/dev/full', 'x'.repeat(10))).toThrow(
      /^cannot (write|flush) \/dev\/full \(ENOSPC: no space left on device/,
    );
    const file = join(tempDir('fs'), 'a-file');
    writeFileSync(file, 'not a folder');
    await expect(
      pretrain(smoke(BYOL_ROW, 1), { runDir: join(file, 'run'), progress: null }),
    ).rejects.toThrow(`cannot create the run directory ${join(file, 'run')} (ENOTDIR`);
  });
});

describe('run directories', () => {
  it('a fresh run into the folder of a longer run moves the old run aside and is not lost', async () => {
    const runDir = join(tempDir('fresh'), 'run');
    await pretrain(smoke(BYOL_ROW, 4), { runDir, progress: null });
    const warnings: string[] = [];
    const fresh = await pretrain(smoke(BYOL_ROW, 2), {
      runDir,
      resume: false,
      progress: null,
      onWarning: (m) => warnings.push(m),
    });
    expect(fresh).toMatchObject({ steps: 2, totalSteps: 2, finished: true });
    expect(warnings).toHaveLength(1);
    const aside = /moved to (\S+)$/.exec(warnings[0] ?? '')?.[1] as string;
    expect(warnings[0]).toBe(`a fresh run: the earlier run in ${runDir} was moved to ${aside}`);
    expect(dirname(aside)).toBe(dirname(runDir));
    expect(listCheckpoints(join(aside, 'checkpoints'))).toEqual([3, 4]);
    expect(listCheckpoints(join(runDir, 'checkpoints'))).toEqual([1, 2]);
    expect(readLog(runDir).map((r) => r.step)).toEqual([1, 2]);
    // a rerun finds the fresh run finished, not the old one
    const again = await pretrain(smoke(BYOL_ROW, 2), { runDir, progress: null });
    expect(again).toMatchObject({ steps: 2, totalSteps: 2, finished: true, records: [] });
  });

  it("checks the config against the checkpoint's own copy on resume", async () => {
    const runDir = tempDir('ckpt-config');
    await pretrain(smoke(BYOL_ROW, 2), { runDir, progress: null, stopAfter: 1 });
    const other = { ...smoke(BYOL_ROW, 2), seed: 4 };
    // config.json says the other config (edited, or written by another version): the checkpoint decides
    writeFileSync(join(runDir, 'config.json'), `${JSON.stringify(other, null, 2)}\n`);
    await expect(pretrain(other, { runDir, progress: null })).rejects.toThrow(
      `${join(runDir, 'checkpoints', 'step-00000001')} was written by another config: config.seed (4 here, 3 in the checkpoint)`,
    );
    await expect(pretrain(smoke(BYOL_ROW, 2), { runDir, progress: null })).rejects.toThrow(
      'holds a run of another config: config.seed (3 here, 4 in ',
    );
  });

  it('a resume cuts the log back to the checkpoint step: no step is logged twice', async () => {
    const config = { ...smoke(BYOL_ROW, 4), checkpoint: { every: 2, keep: 2 } };
    const whole = await pretrain(config, { runDir: tempDir('log-whole'), progress: null });
    const runDir = tempDir('log-crash');
    // a crash after step 3 was logged, before its checkpoint (every 2 steps)
    await expect(
      pretrain(config, {
        runDir,
        progress: null,
        onStep: (r) => {
          if (r.step === 3) throw new Error('crash');
        },
      }),
    ).rejects.toThrow('crash');
    appendFileSync(join(runDir, 'log.jsonl'), '{"step": 4, "lo'); // and a line cut short
    expect(listCheckpoints(join(runDir, 'checkpoints'))).toEqual([2]);
    await pretrain(config, { runDir, progress: null });
    expect(readLog(runDir).map((r) => [r.step, r.loss])).toEqual(
      whole.records.map((r) => [r.step, r.loss]),
    );
  });
});

describe('Ctrl-C', () => {
  it('stops after the current step with its checkpoint, says where, and a rerun resumes there exactly', async () => {
    const config = smoke(BYOL_ROW, 4);
    const whole = await pretrain(config, { runDir: tempDir('sigint-whole'), progress: null });
    const runDir = tempDir('sigint');
    const lines: string[] = [];
    const listeners = process.listenerCount('SIGINT');
    const error = await pretrain(config, {
      runDir,
      progress: { write: (t: string) => lines.push(t) },
      onStep: (r) => {
        if (r.step === 2) process.emit('SIGINT');
      },
    }).catch((e: unknown) => e);
    expect(process.listenerCount('SIGINT')).toBe(listeners);
    expect(error).toBeInstanceOf(PretrainInterruptedError);
    const ckpt = join(runDir, 'checkpoints', 'step-00000002');
    expect((error as Error).message).toBe(
      `stopped at step 2/4 (checkpoint ${ckpt}); run the same command again to resume from step 2`,
    );
    expect(lines.join('')).toContain(`stopped at step 2/4`);
    expect(listCheckpoints(join(runDir, 'checkpoints'))).toEqual([1, 2]);
    const rest = await pretrain(config, { runDir, progress: null });
    expect(rest.records.map((r) => [r.step, r.loss])).toEqual(
      whole.records.slice(2).map((r) => [r.step, r.loss]),
    );
  });

  it('an AbortSignal stops a run the same way', async () => {
    const controller = new AbortController();
    const config = { ...smoke(BYOL_ROW, 3), checkpoint: { every: 5, keep: 2 } };
    const runDir = tempDir('abort');
    await expect(
      pretrain(config, {
        runDir,
        progress: null,
        signal: controller.signal,
        onStep: () => controller.abort(),
      }),
    ).rejects.toThrow(/^stopped at step 1\/3 \(checkpoint .*step-00000001\)/);
    expect(listCheckpoints(join(runDir, 'checkpoints'))).toEqual([1]);
  });
});

describe('the EMA schedule', () => {
  it("is BYOL's: update k (0-based) uses tau(k), from tau0 at the first step", async () => {
    const config = smoke(BYOL_ROW, 3);
    const result = await pretrain(config, { runDir: tempDir('tau'), progress: null });
    expect(result.records.map((r) => r.tau)).toEqual(
      [0, 1, 2].map((k) => emaTau({ tau0: config.optim.tau0, totalSteps: 3 }, k)),
    );
    expect(result.records[0]!.tau).toBe(config.optim.tau0);
  });
});
