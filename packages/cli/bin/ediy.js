#!/usr/bin/env node
// The `ediy` executable: runs the compiled CLI. It lives outside dist/ so that npm can link
// it at install time, before a workspace checkout has been built. In a checkout that is not
// built yet (right after `npm ci`), or with EDIY_FROM_SOURCE=1, it runs the TypeScript
// sources through tsx with the repository's path map (every @ediy/* package from its src/);
// `npm run build` makes it start faster.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/bin.js', import.meta.url);
const src = new URL('../src/bin.ts', import.meta.url);
const paths = new URL('../../../tsconfig.check.json', import.meta.url);
const fromSource =
  process.env.EDIY_FROM_SOURCE === '1' ||
  (!existsSync(dist) && existsSync(src) && existsSync(paths));

if (fromSource) {
  if (!existsSync(src) || !existsSync(paths)) {
    console.error(`ediy: EDIY_FROM_SOURCE=1 needs a repository checkout (${fileURLToPath(src)})`);
    process.exit(1);
  }
  if (process.env.EDIY_FROM_SOURCE !== '1')
    console.error('ediy: not built, running the sources (npm run build makes it start faster)');
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: fileURLToPath(paths) });
  await import(src.href);
} else {
  try {
    await import(dist.href);
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/')) {
      console.error(
        `ediy: the CLI is not fully built (${err.message}); run \`npm run build\` at the repository root`,
      );
      process.exit(1);
    }
    throw err;
  }
}
