import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const loaderSource = join(here, '../src/config-module.ts');
const tsxDir = dirname(fileURLToPath(import.meta.resolve('tsx/package.json', import.meta.url)));

/**
 * The loader in a plain Node process (no tsx, no vitest), loading a TypeScript config
 * from a folder whose package.json is not `"type": "module"`, as a user's folder is.
 */
function runLoader(files: Record<string, string>, config: string): string {
  const dir = tempDir('ediy-config-module-');
  const js = ts.transpileModule(readFileSync(loaderSource, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  mkdirSync(join(dir, 'node_modules', 'probe'), { recursive: true });
  symlinkSync(tsxDir, join(dir, 'node_modules', 'tsx'), 'dir');
  // A package both the process and the config import: one instance or two?
  writeFileSync(
    join(dir, 'node_modules', 'probe', 'package.json'),
    JSON.stringify({ name: 'probe', type: 'module', exports: './index.js' }),
  );
  writeFileSync(join(dir, 'node_modules', 'probe', 'index.js'), 'export const seen = [];\n');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'a-users-folder' }));
  writeFileSync(join(dir, 'loader.mjs'), js);
  writeFileSync(
    join(dir, 'run.mjs'),
    [
      "import { seen } from 'probe';",
      "import { importModule } from './loader.mjs';",
      'const mod = await importModule(process.argv[2]);',
      'console.log(JSON.stringify({ config: mod.default, seen }));',
    ].join('\n'),
  );
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return execFileSync(process.execPath, [join(dir, 'run.mjs'), join(dir, config)], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
}

describe('importModule', () => {
  it('loads an ES-module .ts config outside a "type": "module" package, with its local imports, sharing packages with the process', () => {
    const out = runLoader(
      {
        'configs/parts/method.ts': [
          "import type { RowConfig } from '@ediy/trainer';",
          "export const METHOD: RowConfig['method'] = { byolWeight: 1, regionLosses: [], localPredictor: true };",
        ].join('\n'),
        'configs/run.ts': [
          "import { seen } from 'probe';",
          "import { METHOD } from './parts/method.js';",
          "seen.push('registered by the config');",
          'const size: number = 24;',
          "export default { name: 'outside', method: METHOD, scale: { imageSize: size } };",
        ].join('\n'),
      },
      'configs/run.ts',
    );
    expect(JSON.parse(out)).toEqual({
      config: {
        name: 'outside',
        method: { byolWeight: 1, regionLosses: [], localPredictor: true },
        scale: { imageSize: 24 },
      },
      seen: ['registered by the config'],
    });
  });
});
