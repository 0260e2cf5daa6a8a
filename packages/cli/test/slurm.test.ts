import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchScript, main, parseJobId, shellQuote } from '@ediy/cli';
import { comparableResults, ediyProcess } from './same-results.js';
import { captureIO, tempDir } from './helpers.js';

/** Why the Slurm test cannot run here, or undefined when a controller answers. */
function slurmUnreachable(): string | undefined {
  try {
    const nodes = execFileSync('sinfo', ['-h', '-o', '%t'], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (!/idle|mix|alloc/.test(nodes)) return `sinfo lists no usable node (${nodes.trim()})`;
    return undefined;
  } catch (err) {
    const e = err as Error & { code?: string; stderr?: string };
    return e.code === 'ENOENT'
      ? 'sinfo is not installed'
      : `sinfo failed: ${(e.stderr ?? e.message).trim().split('\n')[0]}`;
  }
}

const unreachable = slurmUnreachable();
if (unreachable)
  console.warn(
    `slurm.test.ts: skipped, no Slurm reachable (${unreachable}); .ci/slurm-test.sh starts one`,
  );

describe('batch scripts', () => {
  it('quote words for the shell and leave $SLURM variables to it', () => {
    expect(shellQuote('/a/b-c.js')).toBe('/a/b-c.js');
    expect(shellQuote("it's here")).toBe(`'it'\\''s here'`);
    const script = batchScript(
      ['--array=1-3'],
      ['node', 'my dir/ediy.js', '--shard', '$SLURM_ARRAY_TASK_ID/3'],
    );
    expect(script).toContain('#SBATCH --array=1-3\n');
    expect(script).toContain(`exec node 'my dir/ediy.js' --shard "$SLURM_ARRAY_TASK_ID/3"`);
    expect(parseJobId('42\n')).toBe('42');
    expect(parseJobId('42;cluster\n')).toBe('42');
    expect(() => parseJobId('Submitted batch job 42')).toThrow('not a job id');
  });
});

describe.skipIf(unreachable === undefined)('reproduce --slurm without a controller', () => {
  it('fails with what sbatch said, after writing the plan and the scripts', async () => {
    const out = tempDir('ediy-slurm-none-');
    const io = captureIO();
    const code = await main(
      ['reproduce', 'table1', '--preset', 'smoke', '--out', out, '--slurm'],
      io,
    );
    expect(code).toBe(1);
    expect(io.err()).toMatch(/ediy: error: sbatch --parsable .*teacher\.sh failed: \S/);
    expect(existsSync(join(out, 'plan.json'))).toBe(true);
    expect(readFileSync(join(out, 'slurm', 'teacher.sh'), 'utf8')).toMatch(/--teacher-only\n$/);
  });
});

/** The state of a job (`COMPLETED`, `FAILED`, ...), from scontrol. */
function jobState(id: string): string {
  const line = execFileSync('scontrol', ['show', 'job', '-o', id], { encoding: 'utf8' });
  return /JobState=(\S+)/.exec(line)?.[1] ?? 'UNKNOWN';
}

describe.skipIf(unreachable !== undefined)(
  `reproduce table1 --preset smoke --slurm${unreachable ? ` (skipped: ${unreachable})` : ''}`,
  () => {
    it('runs as a teacher, an array and a collecting job, and collects what a local run gives', async () => {
      const local = tempDir('ediy-slurm-local-');
      const out = tempDir('ediy-slurm-');
      const common = ['reproduce', 'table1', '--preset', 'smoke', '--backend', 'wasm'];
      const t0 = performance.now();
      const io = captureIO();
      expect(await main([...common, '--out', out, '--slurm'], io), io.err()).toBe(0);
      const ids = io.out().trim().split(' ');
      expect(ids).toHaveLength(3);
      const [teacher, array, collect] = ids as [string, string, string];
      expect(io.err()).toContain(`array ${array} (9 tasks)`);
      const tasks = readFileSync(join(out, 'slurm', 'tasks.sh'), 'utf8');
      expect(tasks).toContain('#SBATCH --array=1-9');
      expect(tasks).toContain('--shard "$SLURM_ARRAY_TASK_ID/9"');
      const deps = execFileSync('scontrol', ['show', 'job', '-o', collect], { encoding: 'utf8' });
      expect(deps).toMatch(new RegExp(`Dependency=afterok:${array}`));

      // Meanwhile, the same table on this process.
      await ediyProcess([...common, '--out', local]);

      let state = jobState(collect);
      while (!/COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY/.test(state)) {
        await new Promise((r) => setTimeout(r, 1000));
        state = jobState(collect);
      }
      console.log(
        `smoke Table 1 on Slurm (teacher, 9 tasks, collect): ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      const logs = join(out, 'slurm');
      expect(state, `collect job ${collect}: see ${logs}`).toBe('COMPLETED');
      expect(jobState(teacher)).toBe('COMPLETED');
      const teacherLog = readFileSync(join(logs, `teacher-${teacher}.log`), 'utf8');
      expect(teacherLog).toMatch(/\[teacher\] table1\/byol seed \d+ step/);
      for (let i = 1; i <= 9; i++) {
        const log = readFileSync(join(logs, `task-${array}_${i}.log`), 'utf8');
        expect(log).toContain(`shard ${i}/9: 1 of 9 runs`);
        expect(log).not.toMatch(/\[teacher\] table1\/byol seed \d+ step/);
      }
      expect(existsSync(join(out, 'results.md'))).toBe(true);
      expect(comparableResults(out)).toEqual(comparableResults(local));
    }, 480_000);
  },
);
