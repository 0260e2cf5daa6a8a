/**
 * Bundles a package entry for the browser with esbuild and reports every Node built-in
 * (`node:fs`, `fs`, `worker_threads`, ...) its module graph imports, so a package that
 * promises to run in a browser cannot start importing one unnoticed.
 *
 * `@ediy/<name>[/<subpath>]` resolves through that package's `exports` map (its `browser`
 * condition first, then `import`, then `default`) to the TypeScript source, so the check
 * needs no prior build and still tests the `exports` map a bundler reads. Everything else
 * (TensorFlow.js included) is bundled from `node_modules` as a browser bundler would,
 * honouring each package's `browser` field.
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Message, type Plugin } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));
const packagesDir = join(root, 'packages');

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Whether `specifier` names a Node built-in module (`fs`, `node:fs`, `fs/promises`, ...). */
export function isNodeBuiltin(specifier: string): boolean {
  return (
    specifier.startsWith('node:') ||
    BUILTINS.has(specifier) ||
    BUILTINS.has(specifier.split('/')[0] ?? '')
  );
}

type ExportTarget = string | { [condition: string]: ExportTarget } | null;

/** The source file a package's `exports[subpath]` stands for, read as a browser bundler would. */
export function browserSourceOf(pkg: string, subpath = '.'): string {
  const dir = join(packagesDir, pkg);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    exports?: Record<string, ExportTarget>;
  };
  let target: ExportTarget | undefined = manifest.exports?.[subpath];
  while (target !== null && typeof target === 'object') {
    target = target.browser ?? target.import ?? target.default;
  }
  if (typeof target !== 'string') {
    throw new Error(
      `packages/${pkg}/package.json exports no ${JSON.stringify(subpath)} for the browser`,
    );
  }
  const src = target.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts');
  return join(dir, src);
}

const workspaceSources: Plugin = {
  name: 'ediy-workspace-sources',
  setup(b) {
    b.onResolve({ filter: /^@ediy\/[a-z0-9-]+(\/.*)?$/ }, (args) => {
      const [, pkg = '', ...rest] = args.path.split('/');
      const subpath = rest.length > 0 ? `./${rest.join('/')}` : '.';
      return { path: browserSourceOf(pkg, subpath) };
    });
  },
};

/** One Node built-in a browser bundle would need. */
export interface NodeImport {
  /** The specifier, e.g. `node:fs`. */
  specifier: string;
  /** `file:line` of the import, relative to the repository. */
  at: string;
}

/** What {@link bundleForBrowser} found. */
export interface BrowserBundleReport {
  /** The Node built-ins imported anywhere in the module graph (static or literal dynamic). */
  nodeImports: NodeImport[];
  /** Any other bundling error, as esbuild words it. */
  errors: string[];
  /** The bundle (ESM), when bundling succeeded. */
  code?: string;
}

function where(m: Message): string {
  return m.location ? `${relative(root, m.location.file)}:${m.location.line}` : '(unknown file)';
}

/**
 * Bundles `entry` (a file, or `@ediy/<name>[/<subpath>]`) for `platform: 'browser'`.
 * @param external - packages left out of the bundle (default: none, TensorFlow.js is bundled).
 */
export async function bundleForBrowser(
  entry: string,
  external: string[] = [],
): Promise<BrowserBundleReport> {
  const m = /^@ediy\/([a-z0-9-]+)(?:\/(.+))?$/.exec(entry);
  const entryFile = m ? browserSourceOf(m[1] ?? '', m[2] ? `./${m[2]}` : '.') : entry;
  try {
    const result = await build({
      entryPoints: [entryFile],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
      external,
      plugins: [workspaceSources],
    });
    return { nodeImports: [], errors: [], code: result.outputFiles[0]?.text ?? '' };
  } catch (err) {
    const messages = (err as { errors?: Message[] }).errors;
    if (!messages) throw err;
    const nodeImports: NodeImport[] = [];
    const errors: string[] = [];
    for (const msg of messages) {
      const specifier = /^Could not resolve "([^"]+)"/.exec(msg.text)?.[1];
      if (specifier !== undefined && isNodeBuiltin(specifier)) {
        nodeImports.push({ specifier, at: where(msg) });
      } else {
        errors.push(`${where(msg)}: ${msg.text}`);
      }
    }
    return { nodeImports, errors };
  }
}

/** One line per Node built-in, for a test failure message. */
export function describeNodeImports(report: BrowserBundleReport): string {
  return report.nodeImports.map((n) => `${n.at} imports ${n.specifier}`).join('\n');
}
