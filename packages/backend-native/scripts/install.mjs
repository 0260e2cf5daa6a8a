#!/usr/bin/env node
// Builds the oneDNN addon at install time when oneDNN is found; otherwise says in one
// line what happens instead, and lets the install succeed (the wasm backend is used).
// EDIY_NATIVE=0 skips the build; EDIY_NATIVE=1 makes a failed or impossible build an error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findDnnl } from './dnnl-config.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.env.EDIY_NATIVE ?? 'auto';
const HOW =
  'install oneDNN (Debian/Ubuntu: apt-get install libdnnl-dev; macOS: brew install onednn; or set DNNL_ROOT) and run `npm rebuild @ediy/backend-native`';

function give(message) {
  console.log(`@ediy/backend-native: ${message}`);
  process.exit(mode === '1' ? 1 : 0);
}

if (mode === '0') {
  console.log('@ediy/backend-native: EDIY_NATIVE=0, native engine not built');
  process.exit(0);
}
const dnnl = findDnnl();
if (!dnnl) give(`oneDNN not found, native engine not built (ediy will use wasm); ${HOW}`);
if (dnnl.runtime !== 'OMP') {
  give(
    `oneDNN ${dnnl.version} at ${dnnl.prefix} uses the ${dnnl.runtime} runtime; the native engine needs an OpenMP build`,
  );
}

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) {
    return process.env.npm_config_node_gyp;
  }
  const require = createRequire(import.meta.url);
  for (const from of [root, dirname(process.execPath)]) {
    try {
      return require.resolve('node-gyp/bin/node-gyp.js', { paths: [from] });
    } catch {
      // not there
    }
  }
  const bundled = join(
    dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  return existsSync(bundled) ? bundled : undefined;
}

const gyp = nodeGyp();
if (!gyp)
  give(
    `node-gyp not found, native engine not built; install node-gyp and run \`npm rebuild @ediy/backend-native\``,
  );
const started = Date.now();
// Node's own headers (as Debian's nodejs ships them) spare node-gyp a download; npm
// passes its `nodedir` setting as npm_config_nodedir.
const args = [gyp, 'rebuild', '--release'];
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
const run = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
});
if (run.status !== 0) {
  process.stderr.write(run.stdout ?? '');
  process.stderr.write(run.stderr ?? '');
  give(
    `building the addon against oneDNN ${dnnl.version} failed (output above); ediy will use wasm`,
  );
}
console.log(
  `@ediy/backend-native: built against oneDNN ${dnnl.version} (${dnnl.prefix}) in ${((Date.now() - started) / 1000).toFixed(0)} s`,
);
