/**
 * What `ediy pretrain <config|row>` trains: a row id of `@ediy/paper`
 * (`table1/ediy`), or a config file: YAML, JSON, or a TS/JS module whose default export
 * (or `row` export) is the config. A config file is a partial experiment
 * (`ConfigLayer`) stating only what differs from its base, plus two keys of its own:
 * `base`, the row id it starts from, and `preset`, its scale preset.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { allRows } from '@ediy/paper';
import { PRESET_NAMES, parseLayer, type ConfigLayer, type PresetName } from '@ediy/trainer';
import { importModule } from './config-module.js';
import { UsageError } from './errors.js';

/** File extensions a config module may have. */
export const MODULE_EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'] as const;

/** File extensions of a config file: YAML, JSON or a module. */
export const CONFIG_EXTENSIONS = ['.yaml', '.yml', '.json', ...MODULE_EXTENSIONS] as const;

/** The keys of a config file that are not experiment fields. */
export interface ConfigFileKeys {
  /** A row id (`table1/byol`) whose method and paper row the file starts from. */
  base?: string;
  /** The scale preset of the file (a `--preset` flag wins). */
  preset?: PresetName;
}

/** A config file's content: a partial experiment and its {@link ConfigFileKeys}. */
export type ConfigFile = ConfigLayer & ConfigFileKeys;

/** What a `<config|row>` argument names. */
export interface LoadedConfig {
  /** The row (a row of the tables, or the file's `base`); empty for a file without one. */
  row: ConfigLayer;
  /** The file's own layer (what it states beside `base` and `preset`), when a file was given. */
  file?: { layer: ConfigLayer; source: string };
  /** The file's `preset`. */
  preset?: PresetName;
  /** `table1/ediy` for a row id, the absolute path for a file. */
  source: string;
}

function rowById(id: string, command: string, what: string): ConfigLayer {
  const rows = allRows();
  const row = rows[id];
  if (!row) {
    throw new UsageError(
      `ediy ${command}: ${what} ${JSON.stringify(id)}; expected a config file (${CONFIG_EXTENSIONS.join(', ')}) or a row id: ${Object.keys(rows).join(', ')}`,
      command,
    );
  }
  return row;
}

/**
 * Resolves a `<config|row>` argument. A path that exists is read as a config file;
 * anything else must be a row id.
 * @throws UsageError for an unknown row id or `base` (listing the ids), an unknown
 *   `preset` or a path with another extension; ConfigError for a bad or unknown field
 *   of the file (naming the file, the field, its value and what was expected); Error
 *   for a file that cannot be read or parsed.
 */
export async function loadConfig(spec: string, command = 'pretrain'): Promise<LoadedConfig> {
  const path = resolve(spec);
  if (!(existsSync(path) && statSync(path).isFile())) {
    const looksLikePath = /[\\]|\.(ya?ml|json|[mc]?[jt]s)$/.test(spec) || /^[./]/.test(spec);
    if (looksLikePath && !(spec in allRows())) {
      throw new UsageError(
        `ediy ${command}: config file ${JSON.stringify(spec)} does not exist; expected a config file or a row id: ${Object.keys(allRows()).join(', ')}`,
        command,
      );
    }
    return { row: rowById(spec, command, 'unknown row'), source: spec };
  }
  const content = await readConfigFile(path, spec, command);
  if (typeof content !== 'object' || content === null || Array.isArray(content)) {
    throw new Error(
      `config ${spec} must hold an object (a partial experiment: name, method, scale, optim, ...), got ${JSON.stringify(content)}`,
    );
  }
  const { base, preset, ...rest } = content as Record<string, unknown>;
  if (base !== undefined && typeof base !== 'string') {
    throw new UsageError(
      `ediy ${command}: ${spec}: base must be a row id, got ${JSON.stringify(base)}`,
      command,
    );
  }
  if (preset !== undefined && !(PRESET_NAMES as readonly unknown[]).includes(preset)) {
    throw new UsageError(
      `ediy ${command}: ${spec}: preset must be one of ${PRESET_NAMES.join(', ')}, got ${JSON.stringify(preset)}`,
      command,
    );
  }
  const layer = parseLayer(rest, spec);
  return {
    row: base === undefined ? {} : rowById(base, command, `${spec}: unknown base row`),
    file: { layer, source: spec },
    ...(preset !== undefined ? { preset: preset as PresetName } : {}),
    source: path,
  };
}

/** The parsed content of a config file, by its extension. */
async function readConfigFile(path: string, spec: string, command: string): Promise<unknown> {
  const ext = extname(path);
  if (!(CONFIG_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new UsageError(
      `ediy ${command}: config ${JSON.stringify(spec)} must be a ${CONFIG_EXTENSIONS.join(', ')} file`,
      command,
    );
  }
  if ((MODULE_EXTENSIONS as readonly string[]).includes(ext)) {
    const mod = await importModule(path);
    const value = mod.default ?? mod.row;
    if (value === undefined) {
      throw new Error(
        `config module ${spec} must export its config as its default export or as 'row'; it exports: ${Object.keys(mod).join(', ') || 'nothing'}`,
      );
    }
    return value;
  }
  const text = readFileSync(path, 'utf8');
  try {
    return ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`cannot parse config ${spec}: ${(err as Error).message}`, { cause: err });
  }
}
