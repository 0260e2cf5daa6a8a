/**
 * Runs the TypeScript snippets of a package README as a test, so a README's example
 * cannot rot: every fenced block tagged `ts` (not `ts no-run`) is written next to the
 * tests and imported through vitest, where `@ediy/*` resolves to the sources.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The `ts` code blocks of a markdown file, in order. */
export function readmeSnippets(readmePath: string): string[] {
  const text = readFileSync(readmePath, 'utf8');
  const blocks: string[] = [];
  const fence = /^```ts[ \t]*\n([\s\S]*?)^```/gm;
  for (let m = fence.exec(text); m; m = fence.exec(text)) blocks.push(m[1] ?? '');
  return blocks;
}

/**
 * Imports (runs) every `ts` block of `readmePath`, one module per block.
 * @returns how many snippets ran; throws the first snippet's error, naming the block.
 */
export async function runReadmeSnippets(readmePath: string): Promise<number> {
  const blocks = readmeSnippets(readmePath);
  if (blocks.length === 0) throw new Error(`${readmePath} has no \`\`\`ts snippet to run`);
  const dir = join(dirname(readmePath), 'test', '.snippets');
  mkdirSync(dir, { recursive: true });
  try {
    for (const [i, code] of blocks.entries()) {
      const file = join(dir, `readme-${i + 1}-${process.pid}.ts`);
      writeFileSync(file, code);
      try {
        await import(pathToFileURL(file).href);
      } catch (err) {
        throw new Error(
          `README snippet ${i + 1} of ${readmePath} failed: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return blocks.length;
}
