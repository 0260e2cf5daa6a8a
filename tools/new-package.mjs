#!/usr/bin/env node
// Creates the skeleton of a workspace package: package.json, tsconfigs, vitest config,
// src/index.ts, a README. Usage: node tools/new-package.mjs <name> "<description>" [dep ...]
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [name, description, ...deps] = process.argv.slice(2);
if (!name || !description) {
  console.error('usage: node tools/new-package.mjs <name> "<description>" [internal-dep ...]');
  process.exit(2);
}
const dir = join('packages', name);
if (existsSync(dir)) {
  console.error(`packages/${name} exists already`);
  process.exit(1);
}
mkdirSync(join(dir, 'src'), { recursive: true });
mkdirSync(join(dir, 'test'), { recursive: true });
const pkg = {
  name: `@ediy/${name}`,
  version: '0.1.0',
  description,
  license: 'MIT',
  type: 'module',
  sideEffects: false,
  engines: { node: '>=20' },
  exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
  main: './dist/index.js',
  types: './dist/index.d.ts',
  files: ['dist', 'src', 'README.md'],
  scripts: {
    build: 'tsc -b',
    typecheck: 'tsc -p tsconfig.check.json',
    test: 'vitest run',
  },
  dependencies: Object.fromEntries(deps.map((d) => [`@ediy/${d}`, '^0.1.0'])),
  peerDependencies: { '@tensorflow/tfjs-core': '^4.22.0' },
  publishConfig: { access: 'public' },
};
writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
writeFileSync(
  join(dir, 'tsconfig.json'),
  JSON.stringify(
    {
      extends: '../../tsconfig.base.json',
      compilerOptions: { rootDir: 'src', outDir: 'dist' },
      include: ['src'],
      references: deps.map((d) => ({ path: `../${d}` })),
    },
    null,
    2,
  ) + '\n',
);
writeFileSync(
  join(dir, 'tsconfig.check.json'),
  JSON.stringify(
    { extends: '../../tsconfig.check.json', include: ['src', 'test', 'bench'] },
    null,
    2,
  ) + '\n',
);
writeFileSync(
  join(dir, 'vitest.config.ts'),
  "import { packageTestConfig } from '../../vitest.shared.js';\n\nexport default packageTestConfig();\n",
);
console.log(`created packages/${name}`);
