#!/usr/bin/env node
// Finds oneDNN's headers and library for binding.gyp and the install script.
// `node scripts/dnnl-config.mjs include|libs|json`. Looks in $DNNL_ROOT (or $ONEDNN_ROOT,
// $CONDA_PREFIX), then the usual prefixes of Debian/Ubuntu, /usr/local and Homebrew.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The prefixes searched, in order. */
export function candidatePrefixes(env = process.env) {
  return [
    env.DNNL_ROOT,
    env.ONEDNN_ROOT,
    env.CONDA_PREFIX,
    '/usr',
    '/usr/local',
    '/opt/homebrew/opt/onednn',
    '/usr/local/opt/onednn',
  ].filter((p) => typeof p === 'string' && p.length > 0);
}

/**
 * The first prefix with oneDNN's C++ header, and what its dnnl_config.h says.
 * @returns `{ prefix, include, libDir, runtime, version }` or `undefined`.
 */
export function findDnnl(env = process.env) {
  for (const prefix of candidatePrefixes(env)) {
    const include = join(prefix, 'include');
    const header = join(include, 'oneapi', 'dnnl', 'dnnl.hpp');
    if (!existsSync(header)) continue;
    const config = readFileSync(join(include, 'oneapi', 'dnnl', 'dnnl_config.h'), 'utf8');
    const runtime = /#define DNNL_CPU_RUNTIME DNNL_RUNTIME_(\w+)/.exec(config)?.[1] ?? 'unknown';
    const versionH = join(include, 'oneapi', 'dnnl', 'dnnl_version.h');
    const v = existsSync(versionH) ? readFileSync(versionH, 'utf8') : '';
    const part = (name) => new RegExp(`#define DNNL_VERSION_${name} (\\d+)`).exec(v)?.[1] ?? '?';
    const version = `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
    const libDir = ['lib', 'lib64', 'lib/x86_64-linux-gnu', 'lib/aarch64-linux-gnu']
      .map((d) => join(prefix, d))
      .find((d) => ['libdnnl.so', 'libdnnl.dylib'].some((f) => existsSync(join(d, f))));
    return { prefix, include, libDir, runtime, version };
  }
  return undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = findDnnl();
  const what = process.argv[2] ?? 'json';
  if (what === 'json') {
    console.log(JSON.stringify(found ?? null));
  } else if (!found) {
    console.error('oneDNN not found (looked in ' + candidatePrefixes().join(', ') + ')');
    process.exit(1);
  } else if (what === 'include') {
    console.log(found.include);
  } else if (what === 'libs') {
    const dir = found.libDir ? [`-L${found.libDir}`, `-Wl,-rpath,${found.libDir}`] : [];
    console.log([...dir, '-ldnnl'].join(' '));
  } else {
    console.error(`unknown query ${what}: expected include, libs or json`);
    process.exit(2);
  }
}
