import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EDIY_BIN, type ReproduceResults } from '@ediy/cli';

/**
 * A reproduction's results.json and results.md with what differs between two output
 * folders of the same runs taken out: the folder itself (in run paths), the wall-clock
 * seconds (and how they were measured) and the creation time. Everything else, every metric and loss included, must
 * be the same for the same plan.
 */
export function comparableResults(out: string): { json: unknown; md: string } {
  const raw = readFileSync(join(out, 'results.json'), 'utf8');
  const results = JSON.parse(raw.split(out).join('<out>')) as Partial<ReproduceResults>;
  delete results.seconds;
  delete results.secondsKind;
  delete results.createdAt;
  const md = readFileSync(join(out, 'results.md'), 'utf8')
    .split(out)
    .join('<out>')
    .replace(/rows; \d+ s[^.]*\./, 'rows; <seconds> s.');
  return { json: results, md };
}

const run = promisify(execFile);

/** Runs the built `ediy` executable in a child process; rejects with its stderr on failure. */
export async function ediyProcess(
  args: readonly string[],
): Promise<{ stdout: string; stderr: string }> {
  const dist = join(EDIY_BIN, '..', '..', 'dist', 'bin.js');
  if (!existsSync(dist))
    throw new Error(
      `${dist} is missing: run \`npm run build\` first (this test runs the ediy executable)`,
    );
  try {
    return await run(process.execPath, [EDIY_BIN, ...args], { encoding: 'utf8' });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`ediy ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}
