/**
 * A user's own table for `ediy reproduce <file>`: a TS/JS module, YAML or JSON file
 * listing rows by id, each a row config (as `@ediy/paper` defines Table 1's), the id
 * of a row of the paper's tables (`table1/ediy`), or a partial experiment with a
 * `base` row id it changes. The table runs with the paper tables' teacher, seeds,
 * evaluation, results.md and plots.
 *
 * ```ts
 * import { TABLE1 } from '@ediy/paper';
 * import { row as mine } from './my-loss.js'; // registers its loss
 * export const name = 'my-table';
 * export const rows = { byol: TABLE1.byol, ediy: TABLE1.ediy, mine };
 * ```
 *
 * ```yaml
 * name: my-table
 * rows:
 *   byol: table1/byol
 *   ediy: table1/ediy
 *   ediy-half-rdem: { base: table1/ediy, method: { regionLosses: [...] } }
 * ```
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { allRows } from '@ediy/paper';
import { mergeLayers, parseLayer, type ConfigLayer, type RowConfig } from '@ediy/trainer';
import { importModule } from './config-module.js';
import { CONFIG_EXTENSIONS, MODULE_EXTENSIONS } from './rows.js';
import { didYouMean } from './suggest.js';
import { UNTRAINED_ROW } from './untrained-row.js';

/** What a row id of a table may be: a folder name (letters, digits, `.`, `_`, `-`). */
export const ROW_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A table's name: the same characters as a row id (it names the output folder). */
export const TABLE_NAME_PATTERN = ROW_ID_PATTERN;

/** One entry of a table file's `rows`. */
export type TableRowEntry = string | RowConfig | (ConfigLayer & { base?: string });

/** What a table file holds (or a module exports: `rows` and `name`, or them as its default export). */
export interface TableFile {
  /** The table's name (default the file's name without its extension). */
  name?: string;
  /** The rows by id, in the order they run. */
  rows: Readonly<Record<string, TableRowEntry>>;
}

/**
 * What a table file's row changes beyond its method, applied over the preset and below
 * the command line's flags (a paper row's fields would sit under the preset, which
 * replaces its `optim` and most of its `scale`): a row `{ base: table1/byol, optim:
 * { baseLr: 0.5 } }` trains at base LR 0.5, as a config file with that `base` does.
 */
export interface RowOverPreset {
  /** The row's fields other than `name`, `method` and `paper` (checked). */
  layer: ConfigLayer;
  /** Where it came from, for error messages (`<file> rows.<id>`). */
  source: string;
  /**
   * The epochs of the row's table (its base row's `paper.epochs`), which pick the
   * preset's settings when the row drops the base's paper numbers.
   */
  paperEpochs?: number;
}

/** A table `reproduce` runs: the paper's or a user's. */
export interface TableSource {
  /** The table's name: `table1`, `table2`, or a user table's name. */
  name: string;
  /** The rows, in order. */
  rows: ReadonlyArray<readonly [string, RowConfig]>;
  /** Per row id, what the row changes over the preset ({@link RowOverPreset}). */
  overPreset?: Readonly<Record<string, RowOverPreset>>;
  /** The absolute path of a user table's file. */
  file?: string;
}

/** Whether a `reproduce` argument names a table file rather than a paper table. */
export function looksLikeTableFile(spec: string): boolean {
  const path = resolve(spec);
  return (
    (existsSync(path) && statSync(path).isFile()) ||
    /[\\/]/.test(spec) ||
    (CONFIG_EXTENSIONS as readonly string[]).includes(extname(spec))
  );
}

function fail(file: string, message: string): never {
  throw new Error(`table ${file}: ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The content of a table file, by its extension. */
async function readTableFile(path: string, spec: string): Promise<unknown> {
  const ext = extname(path);
  if (!(CONFIG_EXTENSIONS as readonly string[]).includes(ext))
    fail(spec, `expected a ${CONFIG_EXTENSIONS.join(', ')} file, got ${JSON.stringify(ext)}`);
  if ((MODULE_EXTENSIONS as readonly string[]).includes(ext)) {
    const mod = await importModule(path);
    if (mod.rows !== undefined) return { name: mod.name, rows: mod.rows };
    if (isObject(mod.default)) return mod.default;
    fail(
      spec,
      `a table module must export 'rows' (and optionally 'name'), or { rows, name } as its default export; it exports: ${Object.keys(mod).join(', ') || 'nothing'}`,
    );
  }
  const text = readFileSync(path, 'utf8');
  try {
    return ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`table ${spec}: cannot parse it: ${(err as Error).message}`, { cause: err });
  }
}

/** A paper row by its full id (`table1/ediy`), or an error listing the ids. */
function paperRow(id: string, what: string, spec: string): RowConfig {
  const rows = allRows();
  const row = rows[id];
  if (!row) {
    fail(
      spec,
      `${what}: unknown row ${JSON.stringify(id)}${didYouMean(id, Object.keys(rows))}; the paper's rows are: ${Object.keys(rows).join(', ')}`,
    );
  }
  return row;
}

/**
 * One entry of `rows` as a row config. A row id is that row; an object with `base` is
 * the base row changed by the object's other fields, and named by the entry's id
 * unless it says `name` (a changed row drops the base's paper numbers, which are not
 * its own, unless it states `paper`); an object without `base` must state its `method`.
 */
export function tableRow(id: string, entry: unknown, spec: string): RowConfig {
  const where = `rows.${id}`;
  if (typeof entry === 'string') return paperRow(entry, where, spec);
  if (!isObject(entry))
    fail(
      spec,
      `${where} must be a row id (e.g. table1/ediy) or a row config ({ base?, name?, method, ... }), got ${JSON.stringify(entry)}`,
    );
  const { base, ...rest } = entry;
  if (base !== undefined && typeof base !== 'string')
    fail(spec, `${where}.base must be a row id (e.g. table1/ediy), got ${JSON.stringify(base)}`);
  const layer = parseLayer(rest, `${spec} ${where}`);
  if (base === undefined) {
    if (layer.method === undefined)
      fail(spec, `${where} must state its method, or a base row id whose method it changes`);
    return { ...layer, name: layer.name ?? id } as RowConfig;
  }
  const baseRow = paperRow(base, `${where}.base`, spec);
  if (Object.keys(rest).length === 0) return baseRow;
  const { paper: _paper, name: _name, ...inherited } = baseRow;
  const merged = mergeLayers(inherited, layer);
  return { ...merged, name: layer.name ?? id } as RowConfig;
}

/**
 * What entry `id` of a table file changes over the preset: its fields other than
 * `base`, `name`, `method` and `paper`, and its base row's table epochs; `undefined`
 * for a row id, or an entry that states nothing else (call after {@link tableRow},
 * which checks the entry).
 */
export function rowOverPreset(id: string, entry: unknown, spec: string): RowOverPreset | undefined {
  if (!isObject(entry)) return undefined;
  const { base, name: _name, method: _method, paper, ...rest } = entry;
  const source = `${spec} rows.${id}`;
  const epochs =
    (isObject(paper) && typeof paper.epochs === 'number' ? paper.epochs : undefined) ??
    (typeof base === 'string' ? allRows()[base]?.paper?.epochs : undefined);
  if (Object.keys(rest).length === 0 && epochs === undefined) return undefined;
  return {
    layer: parseLayer(rest, source),
    source,
    ...(epochs !== undefined ? { paperEpochs: epochs } : {}),
  };
}

/**
 * Reads a user's table file (see the module's documentation).
 * @throws naming the file and what is wrong: a missing file, another extension, no
 *   `rows`, an empty table, a bad row id or name, an unknown base row, or a bad field of
 *   a row (ConfigError, naming the row, the field and its value).
 */
export async function loadTableFile(spec: string): Promise<TableSource> {
  const path = resolve(spec);
  if (!(existsSync(path) && statSync(path).isFile()))
    throw new Error(
      `table ${spec} does not exist; expected a table file (${CONFIG_EXTENSIONS.join(', ')})`,
    );
  const content = await readTableFile(path, spec);
  if (!isObject(content) || !isObject(content.rows))
    fail(
      spec,
      `expected { name?, rows: { <id>: <row>, ... } }, got ${JSON.stringify(content)?.slice(0, 120)}`,
    );
  const extra = Object.keys(content).filter((k) => k !== 'rows' && k !== 'name');
  if (extra.length > 0)
    fail(
      spec,
      `unknown key${extra.length > 1 ? 's' : ''} ${extra.join(', ')}; a table has name and rows`,
    );
  const name = content.name ?? basename(path, extname(path));
  if (typeof name !== 'string' || !TABLE_NAME_PATTERN.test(name))
    fail(
      spec,
      `name must be letters, digits, '.', '_' or '-' (it names the output folder), got ${JSON.stringify(name)}`,
    );
  const entries = Object.entries(content.rows);
  if (entries.length === 0) fail(spec, 'rows is empty; a table needs at least one row');
  const overPreset: Record<string, RowOverPreset> = {};
  const rows = entries.map(([id, entry]) => {
    if (!ROW_ID_PATTERN.test(id))
      fail(
        spec,
        `row id ${JSON.stringify(id)} must be letters, digits, '.', '_' or '-' (it names the run folder)`,
      );
    if (id === UNTRAINED_ROW)
      fail(
        spec,
        `row id ${JSON.stringify(id)} is the untrained floor's, which every table gets; name the row otherwise`,
      );
    const row = tableRow(id, entry, spec);
    const over = rowOverPreset(id, entry, spec);
    if (over) overPreset[id] = over;
    return [id, row] as const;
  });
  return { name, rows, overPreset, file: path };
}
