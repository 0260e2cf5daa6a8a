import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLE1 } from '@ediy/paper';
import {
  DEFAULT_SEEDS,
  main,
  parseShard,
  planReproduce,
  shardJobs,
  withTeacherLock,
  type ReproducePlan,
  type ReproduceResults,
} from '@ediy/cli';
import { comparableResults, ediyProcess } from './same-results.js';
import { captureIO, tempDir } from './helpers.js';

describe('reproduce --plan', () => {
  it('lists the teacher, then every row for every seed, and writes it as plan.json', async () => {
    const out = tempDir('ediy-plan-');
    const io = captureIO();
    const code = await main(
      ['reproduce', 'table1', '--preset', 'smoke', '--seeds', '0,1', '--out', out, '--plan'],
      io,
    );
    expect(code, io.err()).toBe(0);
    expect(io.out().trim()).toBe(join(out, 'plan.json'));
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as ReproducePlan;
    expect(plan).toEqual(planReproduce({ table: 'table1', preset: 'smoke', seeds: [0, 1], out }));
    expect(plan.teacher?.runDir).toBe(join(out, 'teacher'));
    expect(plan.teacher?.config.name).toBe(TABLE1.byol.name);
    const ids = Object.keys(TABLE1).flatMap((row) => [`${row}/seed-0`, `${row}/seed-1`]);
    expect(plan.jobs.map((j) => j.id)).toEqual(ids);
    // BYOL at the teacher's seed is the teacher run: same folder, same config, not retrained.
    expect(plan.jobs[0]).toMatchObject({ teacherRun: true, runDir: join(out, 'teacher') });
    expect(plan.jobs[0]?.config).toEqual(plan.teacher?.config);
    expect(plan.jobs[1]).toMatchObject({
      teacherRun: false,
      runDir: join(out, 'runs/byol/seed-1'),
    });
    for (const job of plan.jobs.slice(2)) {
      const row = TABLE1[job.row as keyof typeof TABLE1];
      const guided = row.method.regionLosses.some((t) => t.matcher === 'teacher');
      expect(job.config.seed).toBe(job.seed);
      expect(job.config.method).toEqual(row.method);
      expect(job.config.teacher).toEqual(guided ? { run: join(out, 'teacher') } : undefined);
    }
    expect(plan.jobs.filter((j) => j.config.teacher).length).toBeGreaterThan(10);
    expect(io.err()).toContain(`the teacher, then ${ids.length} row jobs`);
    expect(existsSync(join(out, 'teacher'))).toBe(false);
  });

  it('plans three seeds at mini and one at smoke and paper when no seed is given', async () => {
    const seedsOf = async (args: string[]): Promise<number[]> => {
      const out = tempDir('ediy-plan-seeds-');
      const io = captureIO();
      const code = await main(['reproduce', 'table1', ...args, '--out', out, '--plan'], io);
      expect(code, io.err()).toBe(0);
      const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as ReproducePlan;
      expect([...new Set(plan.jobs.map((j) => j.seed))]).toEqual(plan.seeds);
      return plan.seeds;
    };
    expect(DEFAULT_SEEDS).toEqual({ smoke: [0], mini: [0, 1, 2], paper: [0] });
    expect(await seedsOf(['--preset', 'mini'])).toEqual([0, 1, 2]);
    expect(await seedsOf([])).toEqual([0, 1, 2]); // mini is the default preset
    expect(await seedsOf(['--preset', 'smoke'])).toEqual([0]);
    // A seed given is kept at every preset.
    expect(await seedsOf(['--preset', 'mini', '--seed', '4'])).toEqual([4]);
    expect(await seedsOf(['--preset', 'smoke', '--seeds', '2,3'])).toEqual([2, 3]);
    // The programmatic API has the same defaults.
    const out = tempDir('ediy-plan-seeds-');
    expect(planReproduce({ table: 'table2', preset: 'mini', out }).seeds).toEqual([0, 1, 2]);
    expect(planReproduce({ table: 'table2', out }).seeds).toEqual([0, 1, 2]);
    expect(planReproduce({ table: 'table2', preset: 'smoke', out }).seeds).toEqual([0]);
    const paper = { kind: 'path', path: out } as const;
    expect(planReproduce({ table: 'table1', preset: 'paper', data: paper, out }).seeds).toEqual([
      0,
    ]);
  });

  it('refuses two modes at once and a bad --shard', async () => {
    const io = captureIO();
    expect(await main(['reproduce', 'table1', '--plan', '--collect'], io)).toBe(2);
    expect(io.err()).toContain('give at most one of');
    const bad = captureIO();
    expect(await main(['reproduce', 'table1', '--shard', '3/2'], bad)).toBe(2);
    expect(bad.err()).toContain('--shard: shard "3/2" must be k/n with 1 <= k <= n');
  });
});

describe('shards', () => {
  it('parses k/n and names the bad value', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['0/2', '3/2', '1/0', '1', 'a/b', '-1/2'])
      expect(() => parseShard(bad)).toThrow(`shard ${JSON.stringify(bad)} must be k/n`);
  });

  it('cuts the jobs into contiguous slices that hold every job once', () => {
    const jobs = Array.from({ length: 9 }, (_, i) => i);
    for (const count of [1, 2, 3, 4, 9, 12]) {
      const slices = Array.from({ length: count }, (_, k) =>
        shardJobs(jobs, { index: k + 1, count }),
      );
      expect(slices.flat()).toEqual(jobs);
      const sizes = slices.map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(shardJobs(jobs, { index: 2, count: 4 })).toEqual([2, 3]);
    expect(shardJobs(jobs, { index: 4, count: 4 })).toEqual([6, 7, 8]);
  });

  it('trains the teacher once when shards start together; a failure reaches the waiters', async () => {
    const dir = tempDir('ediy-lock-');
    const lock = join(dir, 'teacher.lock');
    const done = join(dir, 'done.json');
    let trainings = 0;
    const train = async (): Promise<void> => {
      trainings += 1;
      await new Promise((r) => setTimeout(r, 50));
      writeFileSync(done, '{}');
    };
    const waits: string[] = [];
    const trained = await Promise.all(
      [0, 1, 2].map(() =>
        withTeacherLock(lock, done, train, { pollMs: 5, onWait: (h) => waits.push(h) }),
      ),
    );
    expect(trainings).toBe(1);
    expect(trained.filter(Boolean)).toHaveLength(1);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toMatch(/pid \d+/);
    expect(existsSync(lock)).toBe(false);

    const failDone = join(dir, 'never.json');
    const fail = async (): Promise<void> => {
      await new Promise((r) => setTimeout(r, 30));
      throw new Error('out of memory');
    };
    const [first, second] = await Promise.allSettled([
      withTeacherLock(lock, failDone, fail, { pollMs: 5 }),
      withTeacherLock(lock, failDone, fail, { pollMs: 5 }),
    ]);
    expect(first.status === 'rejected' && String(first.reason)).toContain('out of memory');
    expect(second.status === 'rejected' && String(second.reason)).toContain(
      `ended without ${failDone}`,
    );
    expect(existsSync(lock)).toBe(false);
  });
});

describe('reproduce table1 --preset smoke in two shards, then --collect', () => {
  it('collects the same results as a local reproduce', async () => {
    const local = tempDir('ediy-local-');
    const sharded = tempDir('ediy-sharded-');
    const common = ['reproduce', 'table1', '--preset', 'smoke', '--backend', 'wasm'];
    // Both sides run the ediy executable, as a user does (vitest runs the sources, the CLI the built packages).
    await ediyProcess([...common, '--out', local]);

    const early = captureIO();
    expect(await main([...common, '--out', sharded, '--collect'], early)).toBe(1);
    expect(early.err()).toContain('9 of 9 runs are not finished (no eval.json): byol/seed-0');

    // Two processes at once on one folder: one trains the teacher, the other waits for it.
    const t0 = performance.now();
    const shards = await Promise.all(
      ['1/2', '2/2'].map((k) => ediyProcess([...common, '--out', sharded, '--shard', k])),
    );
    console.log(`two smoke shards in parallel: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const logs = shards.map((s) => s.stderr).join('\n');
    expect(logs.match(/\[teacher\] table1\/byol seed \d+ step/g)?.length ?? 0).toBeGreaterThan(0);
    expect(logs).toMatch(/waiting for the teacher|teacher done/);
    expect(shards[0]?.stderr).toContain('shard 1/2: 4 of 9 runs');
    expect(shards[1]?.stderr).toContain('shard 2/2: 5 of 9 runs');
    const trainedTeacher = shards.filter((s) =>
      /\[teacher\] table1\/byol seed \d+ step/.test(s.stderr),
    );
    expect(trainedTeacher).toHaveLength(1);

    const tensors = tf.memory().numTensors;
    const collected = captureIO();
    expect(await main([...common, '--out', sharded, '--collect'], collected), collected.err()).toBe(
      0,
    );
    expect(tf.memory().numTensors).toBe(tensors);
    expect(collected.err()).not.toMatch(/step \d+\/\d+/);
    expect(comparableResults(sharded)).toEqual(comparableResults(local));
    // The local run's seconds are its wall time; the collected ones the runs' recorded seconds.
    const kind = (dir: string): unknown =>
      (JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ReproduceResults).secondsKind;
    expect([kind(local), kind(sharded)]).toEqual(['wall', 'recorded']);
    expect(existsSync(join(sharded, 'plots', 'saliency-grid.png'))).toBe(true);
    // three smoke reproductions (one local, two shards): 50-105 s alone, more on a loaded machine
  }, 300_000);
});
