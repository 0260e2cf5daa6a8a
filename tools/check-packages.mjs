#!/usr/bin/env node
// Checks that every package installs and imports alone, as a user gets it from npm: packs
// each workspace package (after `npm run build`), installs one package's tarball with the
// tarballs of the @ediy packages it depends on into an empty project (tfjs from the npm
// registry), and imports it there. Usage: node tools/check-packages.mjs [name ...]
//
// First, and alone with --closure (no build, no network: CI runs it), it checks every
// package's dependency closure, as npm would install it (dependencies, required peers and
// optional dependencies, followed through package-lock.json): a backend-free package (the
// leaf model packages and @ediy/core) must have @tensorflow/tfjs-core as a peer dependency
// and nothing in its closure that registers a tfjs backend, so that `npm i @ediy/losses`
// brings tfjs-core as a peer and no backend. The installs of the second part check the
// same on the node_modules npm really made. It also checks that every package's exports map
// has "./package.json", so tools can read a package's manifest.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
// Every published package; examples/ is a private workspace (what users copy), not one.
const dirs = readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d));
const manifests = new Map(
  dirs.map((d) => [JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).name, d]),
);
const args = process.argv.slice(2);
const closureOnly = args.includes('--closure');
const wanted = args
  .filter((a) => !a.startsWith('--'))
  .map((n) => (n.startsWith('@ediy/') ? n : `@ediy/${n}`));

/** The packages that must not bring a tfjs backend into a user's project. */
const BACKEND_FREE = [
  '@ediy/core',
  '@ediy/augment',
  '@ediy/backbones',
  '@ediy/projectors',
  '@ediy/matchers',
  '@ediy/losses',
  '@ediy/optim',
  '@ediy/eval',
];

/** Whether installing `name` puts a tfjs backend (or ediy's backend package) in a project. */
function isBackend(name) {
  return (
    name === '@ediy/backend' ||
    name === '@ediy/backend-native' ||
    name === '@tensorflow/tfjs' ||
    name.startsWith('@tensorflow/tfjs-backend-') ||
    name.startsWith('@tensorflow/tfjs-node')
  );
}

const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages;

/** The manifest npm installs for `name`: a workspace package's, else package-lock.json's entry. */
function manifestOf(name) {
  const dir = manifests.get(name);
  if (dir) return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return lock[`node_modules/${name}`];
}

/**
 * Everything npm installs with `name`, each with the chain of packages that brings it:
 * dependencies, optional dependencies and peers not marked optional, transitively.
 */
function installClosure(name) {
  const via = new Map([[name, [name]]]);
  const queue = [name];
  while (queue.length > 0) {
    const cur = queue.shift();
    const pkg = manifestOf(cur);
    if (!pkg) continue; // an optional platform binary this machine did not install
    const optionalPeers = pkg.peerDependenciesMeta ?? {};
    const deps = [
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}).filter((d) => !optionalPeers[d]?.optional),
    ];
    for (const dep of deps) {
      if (via.has(dep)) continue;
      via.set(dep, [...via.get(cur), dep]);
      queue.push(dep);
    }
  }
  return via;
}

/** What is wrong with a backend-free package's manifest and closure (empty when nothing). */
function closureProblems(name) {
  const pkg = manifestOf(name);
  const problems = [];
  if (!pkg.peerDependencies?.['@tensorflow/tfjs-core']) {
    problems.push('@tensorflow/tfjs-core is not a peer dependency');
  }
  if (pkg.dependencies?.['@tensorflow/tfjs-core']) {
    problems.push(
      '@tensorflow/tfjs-core is a dependency (a second copy for users); make it a peer',
    );
  }
  for (const [dep, chain] of installClosure(name)) {
    if (isBackend(dep)) problems.push(`brings the backend ${dep} (${chain.join(' -> ')})`);
  }
  return problems;
}

let closureFailed = 0;
for (const name of BACKEND_FREE) {
  if (wanted.length && !wanted.includes(name)) continue;
  if (!manifests.has(name)) {
    closureFailed += 1;
    console.log(`FAIL ${name}: no workspace package of that name`);
    continue;
  }
  const problems = closureProblems(name);
  if (problems.length === 0) {
    console.log(
      `ok   ${name}: tfjs-core a peer, no backend in its ${installClosure(name).size - 1} dependencies`,
    );
  } else {
    closureFailed += 1;
    for (const p of problems) console.log(`FAIL ${name}: ${p}`);
  }
}
for (const [name, dir] of manifests) {
  if (wanted.length && !wanted.includes(name)) continue;
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pkg.exports?.['./package.json'] !== './package.json') {
    closureFailed += 1;
    console.log(`FAIL ${name}: its exports map lacks "./package.json": "./package.json"`);
  }
}
if (closureOnly || closureFailed) process.exit(closureFailed ? 1 : 0);

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

/** Every package name under a node_modules folder, nested ones included. */
function installedPackages(dir) {
  const names = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return names;
  }
  for (const entry of entries) {
    if (entry.startsWith('.')) continue;
    const scoped = entry.startsWith('@')
      ? readdirSync(join(dir, entry)).map((n) => `${entry}/${n}`)
      : [entry];
    for (const name of scoped) {
      names.push(name);
      names.push(...installedPackages(join(dir, name, 'node_modules')));
    }
  }
  return names;
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
    if (BACKEND_FREE.includes(name)) {
      const installed = installedPackages(join(project, 'node_modules')).filter(isBackend);
      if (installed.length) throw new Error(`installs the backends ${installed.join(', ')}`);
    }
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
