/**
 * Bundles the page's script with esbuild for the browser. `@ediy/*` packages are
 * bundled from their TypeScript sources (every package ships `src/`), found through
 * their `exports` map, so the page needs no build step of its own and always matches the
 * packages installed beside it. Node only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
/** The package folder (this file is in `src/` or `dist/`). */
const packageDir = dirname(here);

type ExportTarget = string | { [condition: string]: ExportTarget } | null;

/** The folder of an installed `@ediy/<name>` package, looked up from this package upwards. */
function ediyPackageDir(name: string): string {
  for (let dir = packageDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', '@ediy', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`@ediy/${name} is not installed (looked in node_modules above ${packageDir})`);
}

/** The file a browser bundler should take for `@ediy/<name>[/<subpath>]`: its source when shipped. */
export function ediySourceOf(specifier: string): string {
  const m = /^@ediy\/([a-z0-9-]+)(?:\/(.+))?$/.exec(specifier);
  if (!m) throw new Error(`expected @ediy/<name>[/<subpath>], got ${JSON.stringify(specifier)}`);
  const dir = ediyPackageDir(m[1] as string);
  const subpath = m[2] ? `./${m[2]}` : '.';
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    exports?: Record<string, ExportTarget>;
  };
  let target: ExportTarget | undefined = manifest.exports?.[subpath];
  while (target !== null && typeof target === 'object')
    target = target.browser ?? target.import ?? target.default;
  if (typeof target !== 'string')
    throw new Error(`${join(dir, 'package.json')} exports no ${JSON.stringify(subpath)}`);
  const source = join(dir, target.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts'));
  return existsSync(source) ? source : join(dir, target);
}

const ediySources: Plugin = {
  name: 'ediy-sources',
  setup(b) {
    b.onResolve({ filter: /^@ediy\/[a-z0-9-]+(\/.*)?$/ }, (args) => ({
      path: ediySourceOf(args.path),
    }));
  },
};

/** The page's entry: its TypeScript source when shipped, else the compiled file. */
export function pageEntry(): string {
  const source = join(packageDir, 'src', 'page', 'main.ts');
  return existsSync(source) ? source : join(packageDir, 'dist', 'page', 'main.js');
}

/**
 * The page's script, one ES module with TensorFlow.js inside (minified unless
 * `minify: false`).
 */
export async function bundlePage(options: { minify?: boolean } = {}): Promise<string> {
  const result = await build({
    entryPoints: [pageEntry()],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    minify: options.minify ?? true,
    logLevel: 'silent',
    legalComments: 'none',
    plugins: [ediySources],
  });
  const code = result.outputFiles[0]?.text;
  if (code === undefined) throw new Error('esbuild produced no output for the viewer page');
  return code;
}
