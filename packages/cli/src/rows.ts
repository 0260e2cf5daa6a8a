/**
 * What `ediy pretrain <config|row>` trains: a row id of `@ediy/examples`
 * (`table1/ediy`) or a path to a module whose default export (or `row` export) is a
 * `RowConfig`. TypeScript modules are loaded with tsx when the runtime cannot import
 * them itself.
 */
import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { allRows } from '@ediy/examples';
import type { RowConfig } from '@ediy/trainer';
import { UsageError } from './errors.js';

/** File extensions a config module may have. */
export const CONFIG_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;

/** A row and where it came from. */
export interface LoadedRow {
  /** The row. */
  row: RowConfig;
  /** `table1/ediy` for a row id, the absolute path for a module. */
  source: string;
}

/**
 * Resolves a `<config|row>` argument. A path that exists is loaded as a module;
 * anything else must be a row id.
 * @throws UsageError for an unknown row id (listing the ids) or a path with another
 *   extension; Error for a module that fails to load or exports no RowConfig.
 */
export async function loadRow(spec: string, command = 'pretrain'): Promise<LoadedRow> {
  const path = resolve(spec);
  if (existsSync(path) && statSync(path).isFile()) {
    const ext = extname(path);
    if (!(CONFIG_EXTENSIONS as readonly string[]).includes(ext)) {
      throw new UsageError(
        `ediy ${command}: config ${JSON.stringify(spec)} must be a ${CONFIG_EXTENSIONS.join(', ')} module exporting a RowConfig`,
        command,
      );
    }
    return { row: rowFromModule(await importModule(path), spec), source: path };
  }
  const rows = allRows();
  const row = rows[spec];
  if (!row) {
    const looksLikePath = /[\\]|\.m?[jt]s$/.test(spec) || spec.startsWith('.');
    const what = looksLikePath
      ? `config file ${JSON.stringify(spec)} does not exist`
      : `unknown row ${JSON.stringify(spec)}`;
    throw new UsageError(
      `ediy ${command}: ${what}; expected a config module path or a row id: ${Object.keys(rows).join(', ')}`,
      command,
    );
  }
  return { row, source: spec };
}

/**
 * Imports a module by path: natively when the runtime handles its extension (plain
 * JS, or TypeScript under tsx or vitest), else with tsx's ESM loader registered for
 * the import.
 */
export async function importModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !/\.[mc]?ts$/.test(path)) {
      throw new Error(`cannot load config module ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  // Registered globally (not namespaced), so the module's own imports of @ediy/* resolve
  // to the very instances this process runs: a loss it registers is the trainer's.
  const { register } = await import('tsx/esm/api');
  const unregister = register();
  try {
    // A fresh URL: the runtime remembers the failed import of the plain one.
    return (await import(`${url}?ediy-config`)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot load config module ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    await unregister();
  }
}

/** The RowConfig a module exports as `default` or `row`, checked field by field. */
export function rowFromModule(mod: Record<string, unknown>, source: string): RowConfig {
  const candidate = mod.default ?? mod.row;
  if (candidate === undefined) {
    throw new Error(
      `config module ${source} must export a RowConfig as its default export or as 'row'; it exports: ${Object.keys(mod).join(', ') || 'nothing'}`,
    );
  }
  return checkRow(candidate, source);
}

/** Checks that a value has the shape of a RowConfig, naming the first bad field. */
export function checkRow(value: unknown, source: string): RowConfig {
  const bad = (field: string, expected: string, got: unknown): Error =>
    new Error(`config ${source}: ${field} must be ${expected}, got ${JSON.stringify(got)}`);
  if (typeof value !== 'object' || value === null)
    throw bad('the export', 'a RowConfig object', value);
  const row = value as Partial<RowConfig>;
  if (typeof row.name !== 'string' || !/^[\w.-]+$/.test(row.name))
    throw bad('name', "a name of letters, digits, '.', '-', '_'", row.name);
  const method = row.method as Partial<RowConfig['method']> | undefined;
  if (typeof method !== 'object' || method === null)
    throw bad('method', 'an object { byolWeight, regionLosses, localPredictor }', method);
  if (typeof method.byolWeight !== 'number' || !Number.isFinite(method.byolWeight))
    throw bad('method.byolWeight', 'a finite number', method.byolWeight);
  if (!Array.isArray(method.regionLosses))
    throw bad('method.regionLosses', 'an array of { loss, weight, matcher }', method.regionLosses);
  if (typeof method.localPredictor !== 'boolean')
    throw bad('method.localPredictor', 'a boolean', method.localPredictor);
  return row as RowConfig;
}
