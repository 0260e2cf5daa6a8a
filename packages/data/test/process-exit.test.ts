/**
 * The decode threads and the process's life: a consumer that computes synchronously
 * between batches (as feature extraction does) leaves the threads idle and then waits on
 * the next batch; the loader must hold the process while a batch is awaited, or Node exits
 * with the awaited batch unsettled (exit code 13, no error printed). Only a separate
 * process shows it: the test runner keeps its own process alive.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from './fixtures.js';
import { writeClassFolder } from './images.js';

const { dir, cleanup } = tempDir();
const src = pathToFileURL(fileURLToPath(new URL('../src/index.ts', import.meta.url))).href;
const tsconfig = fileURLToPath(new URL('../tsconfig.json', import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx/cli');

beforeAll(async () => {
  await writeClassFolder(join(dir, 'photos'), 2, 150); // 300 images: two decode threads
}, 120_000);
afterAll(cleanup);

it('keeps the process alive while a consumer that blocks between batches awaits the next one', () => {
  const script = join(dir, 'consumer.mts');
  writeFileSync(
    script,
    `import { fileStream, scanImageFolder } from ${JSON.stringify(src)};
const scan = await scanImageFolder(${JSON.stringify(join(dir, 'photos'))});
for (const name of ['first', 'second', 'third']) {
  let n = 0;
  for await (const b of fileStream(scan.items, { name, size: 32, numClasses: 2 }).batches(64)) {
    n += b.labels.length;
    const t = Date.now();
    while (Date.now() - t < 300) {} // synchronous work, as a forward pass
  }
  console.log(name, n);
}
`,
  );
  const r = spawnSync(process.execPath, [tsx, '--tsconfig', tsconfig, script], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  expect(r.stderr).not.toMatch(/Error/);
  expect(r.stdout.trim().split('\n')).toEqual(['first 300', 'second 300', 'third 300']);
  expect(r.status).toBe(0);
}, 200_000);
