/**
 * `ediy list [what]`: what a config can name — the rows of the paper tables, the
 * presets, the registered region losses and matchers, the backends.
 */
import { allRows } from '@ediy/paper';
import { regionLossNames } from '@ediy/losses';
import { matcherNames } from '@ediy/matchers';
import {
  PRESET_NAMES,
  resolveExperiment,
  type ExperimentConfig,
  type RowConfig,
} from '@ediy/trainer';
import { stringFlag, type CommandSpec, type ParsedArgs } from '../args.js';
import { UsageError } from '../errors.js';
import { println, type CliIO } from '../io.js';
import { BACKEND_CHOICES } from '../options.js';
import { loadConfig } from '../rows.js';

/** The sections `ediy list` prints, in order. */
export const LIST_SECTIONS = ['rows', 'presets', 'losses', 'matchers', 'backends'] as const;

/** A section of {@link LIST_SECTIONS}. */
export type ListSection = (typeof LIST_SECTIONS)[number];

/** The `list` command. */
export const LIST_SPEC: CommandSpec = {
  name: 'list',
  summary:
    'List what a config can name: rows of the paper tables, presets, registered region losses and matchers, backends.',
  positionals: `[${LIST_SECTIONS.join('|')}]`,
  arity: { min: 0, max: 1 },
  flags: {
    config: {
      type: 'string',
      value: 'file',
      description:
        'a config file or module to load first: the region losses and matchers a module registers are listed too, marked as its own',
    },
  },
  details: `Examples:
  ediy list
  ediy list presets
  ediy list losses --config examples/extending/region-variance.ts
Without --config only the built-in region losses and matchers are listed.`,
};

/** A plain BYOL row, to show a preset resolved (a preset never changes the method). */
const PROBE_ROW: RowConfig = {
  name: 'preset',
  method: { byolWeight: 1, regionLosses: [], localPredictor: true },
};

function table(rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    `  ${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 2))).join('')}`.trimEnd(),
  );
}

/** One line of a preset's scale: backbone, views, batch, epochs, data. */
export function describeScale(config: ExperimentConfig): string {
  const { scale, optim } = config;
  const b = scale.backbone;
  const data =
    scale.data.kind === 'scenes'
      ? `${scale.data.count} synthetic scenes of ${scale.data.size} px`
      : `${scale.data.path}`;
  const warmup =
    optim.warmupFraction !== undefined
      ? `warm-up ${(optim.warmupFraction * 100).toFixed(1)}% of the steps`
      : `warm-up ${optim.warmupEpochs} epochs`;
  return [
    `ResNet-${b.depth} (${b.stem} stem, width x${b.widthMultiplier})`,
    `${scale.imageSize} px`,
    `batch ${scale.batchSize} x ${scale.accumulate}`,
    `${scale.epochs} epoch${scale.epochs === 1 ? '' : 's'}${scale.maxSteps ? `, at most ${scale.maxSteps} steps` : ''}`,
    `base LR ${optim.baseLr}, ${warmup}, tau0 ${optim.tau0}`,
    data,
  ].join(', ');
}

/** Region losses and matchers a config module registered, for {@link listSection}. */
export interface ModuleNames {
  /** The module, as given. */
  source: string;
  /** Region losses it registered. */
  losses: readonly string[];
  /** Matchers it registered. */
  matchers: readonly string[];
}

/** `names`, each of `own` followed by `(from <source>)`. */
function namesLine(names: readonly string[], own: readonly string[], source?: string): string {
  return `  ${names.map((n) => (own.includes(n) ? `${n} (from ${source})` : n)).join(', ')}`;
}

/**
 * The lines of one section; with `module`, the losses and matchers it registered are
 * marked as its own.
 */
export function listSection(section: ListSection, module?: ModuleNames): string[] {
  switch (section) {
    case 'rows':
      return [
        'Rows (ediy pretrain <row>, or base: <row> in a config file):',
        ...table(
          Object.entries(allRows()).map(([id, row]) => [
            id,
            row.paper
              ? `Table ${row.paper.table} row ${row.paper.row}: ${row.paper.label}`
              : row.name,
          ]),
        ),
      ];
    case 'presets':
      return [
        "Presets (--preset, or preset: <name> in a config file; paper takes the epochs of the row's table):",
        ...table(
          PRESET_NAMES.map((name) => [
            name,
            describeScale(resolveExperiment(PROBE_ROW, { preset: name })),
          ]),
        ),
      ];
    case 'losses':
      return [
        'Region losses (method.regionLosses[].loss):',
        namesLine(regionLossNames(), module?.losses ?? [], module?.source),
      ];
    case 'matchers':
      return [
        'Matchers (method.regionLosses[].matcher):',
        namesLine(matcherNames(), module?.matchers ?? [], module?.source),
      ];
    case 'backends':
      return ['Backends (--backend):', `  ${BACKEND_CHOICES.join(', ')}`];
  }
}

/** Runs `ediy list`. */
export async function listCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const what = args.positionals[0];
  if (what !== undefined && !(LIST_SECTIONS as readonly string[]).includes(what)) {
    throw new UsageError(
      `ediy list: unknown section ${JSON.stringify(what)}; expected one of ${LIST_SECTIONS.join(', ')}`,
      'list',
    );
  }
  const source = stringFlag(args, 'config');
  let module: ModuleNames | undefined;
  if (source !== undefined) {
    const [losses, matchers] = [new Set(regionLossNames()), new Set(matcherNames())];
    await loadConfig(source, 'list'); // a module registers its losses and matchers on import
    module = {
      source,
      losses: regionLossNames().filter((n) => !losses.has(n)),
      matchers: matcherNames().filter((n) => !matchers.has(n)),
    };
  }
  const sections = what === undefined ? LIST_SECTIONS : [what as ListSection];
  const lines = sections.flatMap((s, i) => [...(i > 0 ? [''] : []), ...listSection(s, module)]);
  println(io.stdout, lines.join('\n'));
  return Promise.resolve(0);
}
