#!/usr/bin/env node
// Checks that every package installs and imports alone, as a user gets it from npm: packs
// each workspace package (after `npm run build`), installs one package's tarball with the
// tarballs of the @ediy packages it depends on into an empty project (tfjs from the npm
// registry), and imports it there. Usage: node tools/check-packages.mjs [name ...]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const dirs = [
  ...readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d)),
  join(root, 'examples'),
];
const manifests = new Map(
  dirs.map((d) => [JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).name, d]),
);
const wanted = process.argv.slice(2).map((n) => (n.startsWith('@ediy/') ? n : `@ediy/${n}`));
const packDir = mkdtempSync(join(tmpdir(), 'ediy-pack-'));
const tarballs = new Map();
for (const [name, dir] of manifests) {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', packDir], {
    cwd: dir,
    encoding: 'utf8',
  });
  tarballs.set(name, join(packDir, JSON.parse(out)[0].filename));
}

function closure(name, seen = new Set()) {
  if (seen.has(name)) return seen;
  seen.add(name);
  const pkg = JSON.parse(readFileSync(join(manifests.get(name), 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) if (manifests.has(dep)) closure(dep, seen);
  return seen;
}

let failed = 0;
for (const name of wanted.length ? wanted : [...manifests.keys()]) {
  const project = mkdtempSync(join(tmpdir(), 'ediy-install-'));
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'check', private: true, type: 'module' }),
  );
  const local = [...closure(name)].map((n) => tarballs.get(n));
  try {
    execFileSync(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        ...local,
        '@tensorflow/tfjs-core@^4.22.0',
        '@tensorflow/tfjs-layers@^4.22.0',
      ],
      { cwd: project, stdio: 'pipe' },
    );
    writeFileSync(
      join(project, 'check.mjs'),
      `const m = await import(${JSON.stringify(name)}); console.log(Object.keys(m).length);`,
    );
    const exports = Number(
      execFileSync('node', ['check.mjs'], { cwd: project, encoding: 'utf8' }).trim(),
    );
    if (!(exports > 0)) throw new Error('exports nothing');
    console.log(`ok   ${name}: installs alone and imports (${exports} exports)`);
  } catch (err) {
    failed += 1;
    console.log(
      `FAIL ${name}: ${String(err.stderr ?? err.message)
        .split('\n')
        .slice(0, 5)
        .join(' | ')}`,
    );
  }
}
process.exit(failed ? 1 : 0);
