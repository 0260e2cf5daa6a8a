import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CHECKPOINT_FORMAT,
  RUN_DIR_LAYOUT,
  RunDirError,
  appendLogRecord,
  checkpointName,
  checkpointPaths,
  holdsRun,
  isRunDir,
  jsonRecordText,
  latestCheckpoint,
  listCheckpoints,
  newestCheckpoint,
  readCheckpointState,
  readEvalRecord,
  readJsonFile,
  readLog,
  readRunConfig,
  readRunConfigText,
  runConfigText,
  runPaths,
  truncateLog,
  writeJsonRecord,
  writeRunConfig,
} from '@ediy/core/node';

const temp = (label: string): string => mkdtempSync(join(tmpdir(), `ediy-core-run-${label}-`));

/** A checkpoint folder of `step` in `runDir`, with a state.json of `state` (or none). */
function checkpoint(runDir: string, step: number, state?: object | string): string {
  const dir = join(runDir, 'checkpoints', checkpointName(step));
  mkdirSync(dir, { recursive: true });
  if (state !== undefined)
    writeFileSync(
      join(dir, 'state.json'),
      typeof state === 'string' ? state : JSON.stringify(state),
    );
  return dir;
}

const goodState = (step: number) => ({
  format: CHECKPOINT_FORMAT,
  step,
  config: { name: 'byol', seed: 0 },
  weights: { 'online.backbone': ['conv/kernel'] },
  optimizer: ['slot0/m'],
});

describe('the layout', () => {
  it('names every file of a run directory and a checkpoint folder', () => {
    expect(runPaths('runs/a')).toEqual({
      dir: 'runs/a',
      config: join('runs/a', 'config.json'),
      log: join('runs/a', 'log.jsonl'),
      eval: join('runs/a', 'eval.json'),
      evalUntrained: join('runs/a', 'eval-untrained.json'),
      checkpoints: join('runs/a', 'checkpoints'),
      tensorboard: join('runs/a', 'tb'),
    });
    expect(checkpointName(12)).toBe('step-00000012');
    expect(checkpointPaths('c/step-00000012')).toEqual({
      dir: 'c/step-00000012',
      state: join('c/step-00000012', 'state.json'),
      tensors: join('c/step-00000012', 'tensors.safetensors'),
    });
    expect(RUN_DIR_LAYOUT.checkpoints).toBe('checkpoints');
  });

  it('rejects a bad step or path, naming it', () => {
    expect(() => checkpointName(-1)).toThrow(
      'checkpoint step must be an integer in [0, 1e8), got -1',
    );
    expect(() => checkpointName(1.5)).toThrow('got 1.5');
    expect(() => checkpointName(1e8)).toThrow('got 100000000');
    expect(() => runPaths('')).toThrow('runDir must be a non-empty string, got ""');
    expect(() => runPaths(undefined as unknown as string)).toThrow('got undefined');
  });
});

describe('checkpoints', () => {
  it('lists the complete ones in step order; temporary, damaged and half-written folders are not', () => {
    const run = temp('list');
    const ckpts = runPaths(run).checkpoints;
    expect(listCheckpoints(ckpts)).toEqual([]);
    expect(newestCheckpoint(run)).toBeUndefined();
    expect(holdsRun(run)).toBe(false);
    expect(isRunDir(run)).toBe(false);
    checkpoint(run, 10, goodState(10));
    checkpoint(run, 2, goodState(2));
    checkpoint(run, 11); // no state.json yet: a crash mid-write
    mkdirSync(join(ckpts, '.tmp-step-00000012-99'));
    mkdirSync(join(ckpts, 'damaged-step-00000013'));
    mkdirSync(join(ckpts, 'step-14')); // not 8 digits
    expect(listCheckpoints(ckpts)).toEqual([2, 10]);
    expect(latestCheckpoint(ckpts)).toBe(join(ckpts, 'step-00000010'));
    expect(newestCheckpoint(run)).toBe(join(ckpts, 'step-00000010'));
    expect(holdsRun(run)).toBe(true);
    expect(isRunDir(run)).toBe(true);
  });

  it('a run is held by a log alone, not by an empty checkpoints folder', () => {
    const run = temp('holds');
    mkdirSync(runPaths(run).checkpoints);
    expect(holdsRun(run)).toBe(false);
    expect(isRunDir(run)).toBe(true);
    writeFileSync(runPaths(run).log, '');
    expect(holdsRun(run)).toBe(true);
  });

  it("reads a checkpoint's state, and names state.json and what it expected when it is not one", () => {
    const run = temp('state');
    const dir = checkpoint(run, 3, goodState(3));
    expect(readCheckpointState(dir)).toEqual(goodState(3));
    const { optimizer: _, ...noOptimizer } = goodState(4);
    expect(readCheckpointState(checkpoint(run, 4, noOptimizer)).optimizer).toEqual([]);
    const state = join(checkpoint(run, 5), 'state.json');
    const cases: Array<[object | string | undefined, string]> = [
      [undefined, `${state}: not found (expected the checkpoint state)`],
      ['{"format": 1, "st', `${state}: the checkpoint state is not valid JSON (`],
      ['[1]', `${state}: expected a checkpoint state (a JSON object)`],
      [{ ...goodState(5), format: 2 }, `${state}: checkpoint format 1 expected, got 2`],
      [{ ...goodState(5), format: undefined }, `${state}: checkpoint format 1 expected, got none`],
      [
        { ...goodState(5), step: -1 },
        `${state}: not a checkpoint state: expected a step (an integer >= 0), got -1`,
      ],
      [
        { ...goodState(5), config: 7 },
        `${state}: not a checkpoint state: expected a config object`,
      ],
      [
        { ...goodState(5), weights: { a: [1] } },
        `${state}: not a checkpoint state: expected weights: the weight names of each model key`,
      ],
      [
        { ...goodState(5), optimizer: 'm' },
        `${state}: not a checkpoint state: expected optimizer: the optimiser's state names`,
      ],
    ];
    for (const [content, message] of cases) {
      if (content !== undefined)
        writeFileSync(state, typeof content === 'string' ? content : JSON.stringify(content));
      let error: unknown;
      try {
        readCheckpointState(join(run, 'checkpoints', 'step-00000005'));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(RunDirError);
      expect((error as RunDirError).message.startsWith(message)).toBe(true);
      expect((error as RunDirError).path).toBe(state);
    }
  });
});

describe('config.json', () => {
  it('is written as 2-space JSON with a final newline, and read back', () => {
    const run = join(temp('config'), 'run');
    const config = { name: 'byol', seed: 3, scale: { batchSize: 8 } };
    expect(readRunConfigText(run)).toBeUndefined();
    const path = writeRunConfig(run, config);
    expect(path).toBe(runPaths(run).config);
    expect(readFileSync(path, 'utf8')).toBe(`${JSON.stringify(config, null, 2)}\n`);
    expect(readRunConfigText(run)).toBe(runConfigText(config));
    expect(readRunConfig(run)).toEqual(config);
    // no temporary file beside it
    expect(readdirSync(run)).toEqual(['config.json']);
  });

  it('names config.json and what was expected when it is missing, not JSON or not an object', () => {
    const run = temp('bad-config');
    const path = runPaths(run).config;
    expect(() => readRunConfig(run)).toThrow(`${path}: not found (expected the run config)`);
    writeFileSync(path, '{"name": ');
    expect(() => readRunConfig(run)).toThrow(`${path}: the run config is not valid JSON (`);
    writeFileSync(path, '"byol"');
    expect(() => readRunConfig(run)).toThrow(
      `${path}: expected an experiment config (a JSON object), got string`,
    );
    mkdirSync(join(run, 'dir.json'));
    expect(() => readJsonFile(join(run, 'dir.json'), 'a record')).toThrow(
      `${join(run, 'dir.json')}: cannot read a record (EISDIR: `,
    );
  });
});

describe('log.jsonl', () => {
  it('appends records a line each and reads them back', () => {
    const path = join(temp('log'), 'log.jsonl');
    expect(readLog(path)).toEqual([]);
    appendLogRecord(path, { step: 1, loss: 2.5 });
    appendLogRecord(path, { step: 2, loss: 2 });
    expect(readFileSync(path, 'utf8')).toBe('{"step":1,"loss":2.5}\n{"step":2,"loss":2}\n');
    expect(readLog(path, { strict: true, numeric: ['loss'] })).toEqual([
      { step: 1, loss: 2.5 },
      { step: 2, loss: 2 },
    ]);
  });

  it('names the log and its line for a line that is not a record, or skips it when not strict', () => {
    const path = join(temp('bad-log'), 'log.jsonl');
    writeFileSync(path, '{"step":1,"loss":3}\n\n{"step":2,"loss":1}\n{"step":1,"loss":2}\n{"ste');
    expect(() => readLog(path, { strict: true })).toThrow(`${path}:5: not a JSON step record (`);
    expect(readLog(path).map((r) => r.loss)).toEqual([3, 1, 2]);
    // a step logged twice (a run resumed before the log was cut back): the last one counts
    expect(readLog(path, { lastPerStep: true })).toEqual([
      { step: 1, loss: 2 },
      { step: 2, loss: 1 },
    ]);
    writeFileSync(path, '{"step":1,"loss":3}\n{"step":2,"loss":"x"}\n');
    expect(() => readLog(path, { strict: true, numeric: ['loss'] })).toThrow(
      `${path}:2: a step record needs numeric 'step' and 'loss', got {"step":2,"loss":"x"}`,
    );
    expect(readLog(path, { numeric: ['loss'] })).toEqual([{ step: 1, loss: 3 }]);
    expect(readLog(path)).toHaveLength(2);
  });

  it('is cut back to a step byte for byte, dropping a line cut short, and not written when nothing is dropped', () => {
    const dir = temp('truncate');
    const path = join(dir, 'log.jsonl');
    expect(truncateLog(path, 3)).toBe(0);
    const lines = ['{"step": 1, "loss": 1e-7}', '{"step":2}', '{"step":3}', '{"step":4}'];
    writeFileSync(path, `${lines.join('\n')}\n{"step": 5, "lo`);
    expect(truncateLog(path, 2)).toBe(3);
    expect(readFileSync(path, 'utf8')).toBe(`${lines[0]}\n${lines[1]}\n`);
    const written = statSync(path).mtimeMs;
    expect(truncateLog(path, 2)).toBe(0);
    expect(statSync(path).mtimeMs).toBe(written);
    expect(readdirSync(dir)).toEqual(['log.jsonl']);
    expect(() => truncateLog(path, -1)).toThrow('step must be an integer >= 0, got -1');
  });

  it('names the log and the reason when it cannot be appended to', () => {
    const dir = temp('append');
    writeFileSync(join(dir, 'file'), '');
    const path = join(dir, 'file', 'log.jsonl');
    expect(() => appendLogRecord(path, { step: 1 })).toThrow(`cannot append to ${path} (E`);
  });
});

describe('eval.json', () => {
  it('writes NaN metrics as null and reads them back as NaN', () => {
    const run = temp('eval');
    const path = runPaths(run).eval;
    const record = { metrics: { knnTop1: 0.5, denseMIoU: NaN }, steps: 4, note: 'x' };
    writeJsonRecord(path, record);
    expect(readFileSync(path, 'utf8')).toBe(jsonRecordText(record));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      metrics: { knnTop1: 0.5, denseMIoU: null },
      steps: 4,
      note: 'x',
    });
    expect(readEvalRecord(path)).toEqual(record);
    expect(readdirSync(run)).toEqual(['eval.json']);
  });

  it('names the file and what was expected when it is missing, not JSON or has no metrics', () => {
    const path = runPaths(temp('bad-eval')).eval;
    expect(() => readEvalRecord(path)).toThrow(`${path}: not found (expected the evaluation)`);
    writeFileSync(path, '{"metrics": ');
    expect(() => readEvalRecord(path)).toThrow(`${path}: the evaluation is not valid JSON (`);
    writeFileSync(path, '{"steps": 3}');
    expect(() => readEvalRecord(path)).toThrow(
      `${path}: expected an evaluation record with metrics`,
    );
    writeFileSync(path, '{"metrics": {"knnTop1": "0.5"}}');
    expect(() => readEvalRecord(path)).toThrow(
      `${path}: metric knnTop1 must be a number (or null for NaN), got "0.5"`,
    );
    expect(existsSync(path)).toBe(true);
  });
});
