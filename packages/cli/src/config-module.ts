/**
 * Imports a config module (TS or JS) from any folder. Node decides a `.ts` file's module
 * format from the nearest `package.json`: outside a `"type": "module"` package it is
 * CommonJS, and an ES-module `.ts` there (what every config is) used to fail inside Node
 * (`ERR_REQUIRE_CYCLE_MODULE`, "please open an issue"). Here tsx compiles TypeScript and a
 * small resolve hook marks the config file, and the local `.ts` files it imports, as ES
 * modules; packages it imports (`@ediy/losses`, ...) are the very instances this process
 * runs, so a loss the config registers is the trainer's.
 * Only node builtins and tsx are imported here, so the loader can be tested on its own.
 */
import { register as registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';

/** The query that marks a config module and the local TypeScript files it imports. */
const MARK = 'ediy-config';

/** The resolve hook: ES-module format for marked, local (not node_modules) `.ts`/`.tsx` files. */
const HOOKS = `
const MARK = ${JSON.stringify(MARK)};
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  const local = r.url.startsWith('file:') && !r.url.includes('/node_modules/') && /\\.tsx?(\\?|$)/.test(r.url);
  const marked = r.url.includes(MARK) || (context.parentURL ?? '').includes(MARK);
  if (!local || !marked) return r;
  const url = r.url.includes(MARK) ? r.url : r.url + (r.url.includes('?') ? '&' : '?') + MARK;
  return { ...r, url, format: 'module' };
}
`;

let hooksRegistered = false;

/** A loader error: the module and what went wrong. */
function cannotLoad(path: string, err: unknown): Error {
  return new Error(`cannot load config module ${path}: ${(err as Error).message}`, { cause: err });
}

/**
 * Imports the module at `path`: natively when the runtime handles its extension (plain
 * JS, or TypeScript under tsx or vitest), else with tsx and the ES-module hook.
 * @throws Error naming the module when it fails to load.
 */
export async function importModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !/\.[mc]?tsx?$/.test(path))
      throw cannotLoad(path, err);
  }
  // Registered globally (not namespaced), so the module's own imports of @ediy/* resolve
  // to the very instances this process runs: a loss it registers is the trainer's.
  const { register } = await import('tsx/esm/api');
  const unregister = register();
  if (!hooksRegistered) {
    // After tsx, so it runs first and gives tsx the format to compile to.
    registerHooks(`data:text/javascript,${encodeURIComponent(HOOKS)}`);
    hooksRegistered = true;
  }
  try {
    // A fresh, marked URL: the runtime remembers the failed import of the plain one.
    return (await import(`${url}?${MARK}`)) as Record<string, unknown>;
  } catch (err) {
    throw cannotLoad(path, err);
  } finally {
    await unregister();
  }
}
