/**
 * The one schema of an experiment (zod): a complete {@link ExperimentConfig} and a
 * partial {@link ConfigLayer} (a row, a preset, a config file, command-line overrides),
 * with errors that name the field path, the value and what was expected. Unknown fields
 * are errors at every level.
 */
import { z } from 'zod';
import {
  isRegionLossName,
  regionLossNames,
  type RegionLossName,
  type RegionTerm,
} from '@ediy/losses';
import { isMatcherName, matcherNames, type MatcherName } from '@ediy/matchers';
import type { ExperimentConfig, PaperRow } from './config.js';

/** Largest loss weight accepted. */
const MAX_WEIGHT = 1e6;

/** A finite number in [min, max] (or (min, max] with `minExclusive`), with one description. */
function num(min: number, max: number, minExclusive = false): z.ZodNumber {
  const what = `a number in ${minExclusive ? '(' : '['}${min}, ${max}]`;
  const base = z.number({ error: what });
  return (minExclusive ? base.gt(min, { error: what }) : base.min(min, { error: what })).max(max, {
    error: what,
  });
}

/** An integer >= min. */
function int(min: number): z.ZodNumber {
  const what = `an integer >= ${min}`;
  return z.int({ error: what }).min(min, { error: what });
}

/** A non-empty string. */
function text(what: string): z.ZodString {
  return z.string({ error: what }).min(1, { error: what });
}

/** A strict object whose errors list its fields. */
function obj<S extends z.ZodRawShape>(shape: S): z.ZodObject<S, z.core.$strict> {
  const fields = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `fields ${fields}` : `an object { ${fields} }`,
  });
}

const NAME = z
  .string({ error: "a non-empty name of letters, digits, '.', '-', '_'" })
  .regex(/^[\w.-]+$/, { error: "a non-empty name of letters, digits, '.', '-', '_'" });

/** A name registered at parse time (`is`), the error listing the registered ones. */
function registered<T extends string>(
  what: string,
  is: (v: unknown) => v is T,
  names: () => string[],
): z.ZodPipe<z.ZodString, z.ZodCustom<T, T>> {
  return text(what).pipe(z.custom<T>(is, { error: () => `${what} (${names().join(', ')})` }));
}

/** Whether `v` has a term's shape once its fields are checked (its options are the loss's to read). */
function isRegionTerm(v: unknown): v is RegionTerm {
  return (
    typeof v === 'object' &&
    v !== null &&
    'loss' in v &&
    'matcher' in v &&
    isRegionLossName(v.loss) &&
    isMatcherName(v.matcher)
  );
}

// Names are checked against the registries at parse time, so a config module must register
// its own losses and matchers before its config is parsed (importing it does).
const regionTerm = obj({
  loss: registered<RegionLossName>(
    'the name of a registered region loss',
    isRegionLossName,
    regionLossNames,
  ),
  weight: num(0, MAX_WEIGHT),
  matcher: registered<MatcherName>('the name of a registered matcher', isMatcherName, matcherNames),
  options: z.record(z.string(), z.unknown(), { error: 'an object of loss options' }).optional(),
}).pipe(z.custom<RegionTerm>(isRegionTerm));

const methodShape = {
  byolWeight: num(0, MAX_WEIGHT),
  regionLosses: z.array(regionTerm, { error: 'an array of { loss, weight, matcher }' }).readonly(),
  localPredictor: z.boolean({ error: 'a boolean' }),
};

const backbone = obj({
  depth: z.union([z.literal(18), z.literal(34), z.literal(50)], { error: '18, 34 or 50' }),
  stem: z.enum(['imagenet', 'small'], { error: "'imagenet' or 'small'" }),
  widthMultiplier: num(1 / 64, 8),
});

const projector = obj({ hidden: int(1), out: int(1) });

const scenesData = obj({
  kind: z.literal('scenes'),
  count: int(1),
  size: int(8),
  numClasses: int(1),
  seed: int(0),
});

const pathData = obj({
  kind: z.literal('path'),
  path: text('a file or folder path'),
  size: int(8).optional(),
});

const pastedFields = {
  path: text('a file or folder path'),
  count: int(1),
  size: int(8),
  seed: int(0),
  heldOutCount: int(1).optional(),
  itemSize: int(1).optional(),
  minObjects: int(1).optional(),
  maxObjects: int(1).optional(),
  threshold: num(0, 1).optional(),
  background: z
    .union([z.enum(['black', 'texture']), obj({ folder: text('a folder of photos') })], {
      error: "'black', 'texture' or { folder: <folder of photos> }",
    })
    .optional(),
};

const pastedData = obj({ kind: z.literal('pasted'), ...pastedFields });

const DATA_KINDS =
  "'scenes' (with count, size, numClasses, seed), 'path' (with path, size?) or 'pasted' (with path, count, size, seed, ...)";

const data = z.discriminatedUnion('kind', [scenesData, pathData, pastedData], {
  error: DATA_KINDS,
});

const scaleShape = {
  backbone,
  projector,
  imageSize: int(8),
  batchSize: int(2),
  accumulate: int(1),
  epochs: int(1),
  maxSteps: int(1).optional(),
  data,
};

const optimShape = {
  baseLr: num(0, 100),
  weightDecay: num(0, 1),
  momentum: num(0, 1),
  eta: num(0, 1),
  warmupEpochs: num(0, 1e6).optional(),
  warmupFraction: z
    .number({ error: 'a number in [0, 1)' })
    .min(0, { error: 'a number in [0, 1)' })
    .lt(1, { error: 'a number in [0, 1)' })
    .optional(),
  tau0: num(0, 1),
  larsClip: z.boolean({ error: 'true or false' }).optional(),
};

const teacher = z.union(
  [obj({ run: text('a run directory') }), obj({ modelDir: text('a model directory') })],
  { error: '{ run: <BYOL run directory> } or { modelDir: <TF.js model directory> }' },
);

const checkpointShape = { every: int(1), keep: int(1) };

/** A range `[lo, hi]` with `min < lo <= hi <= max`. */
function range(min: number, max: number) {
  const what = `a pair [lo, hi] with ${min} < lo <= hi <= ${max}`;
  const bound = z.number({ error: what }).gt(min, { error: what }).max(max, { error: what });
  return z
    .tuple([bound, bound], { error: what })
    .refine(([lo, hi]) => lo <= hi, { error: what })
    .readonly();
}

const prob = num(0, 1);

/** Changes to one view (`AugmentViewConfig`): every field optional, BYOL's value when left out. */
const augmentView = obj({
  cropScale: range(0, 1).optional(),
  cropRatio: range(0, 100).optional(),
  flipProb: prob.optional(),
  colorJitter: obj({
    prob: prob.optional(),
    brightness: num(0, 10).optional(),
    contrast: num(0, 10).optional(),
    saturation: num(0, 10).optional(),
    hue: num(0, 0.5).optional(),
  }).optional(),
  grayscaleProb: prob.optional(),
  blur: obj({
    prob: prob.optional(),
    sigma: range(0, 1000).optional(),
    kernelFraction: z
      .number({ error: 'a number in [0, 1)' })
      .min(0, { error: 'a number in [0, 1)' })
      .lt(1, { error: 'a number in [0, 1)' })
      .optional(),
  }).optional(),
  solarizeProb: prob.optional(),
});

/** The `augment` section (`AugmentConfig`); a partial one is a layer's too. */
const augment = obj({
  both: augmentView.optional(),
  view1: augmentView.optional(),
  view2: augmentView.optional(),
  scaleBlurSigma: z.boolean({ error: 'true or false' }).optional(),
});

const paper = obj({
  table: int(1),
  row: int(1),
  label: z.string({ error: 'a string' }),
  epochs: int(1),
  numbers: z.record(z.string(), z.number(), { error: 'an object of numbers' }).readonly(),
});

/** The schema of a complete, resolved experiment (what `pretrain` runs). */
export const experimentSchema = obj({
  name: NAME,
  seed: int(0),
  method: obj(methodShape),
  scale: obj(scaleShape),
  optim: obj(optimShape),
  augment: augment.optional(),
  teacher: teacher.optional(),
  checkpoint: obj(checkpointShape),
  paper: paper.optional(),
}).superRefine((config, ctx) => {
  const { method, scale, optim } = config;
  if (method.byolWeight === 0 && method.regionLosses.every((t) => t.weight === 0)) {
    ctx.addIssue({
      code: 'custom',
      path: ['method'],
      input: method,
      message:
        'a method with a positive weight: set byolWeight or a region loss weight (it has no loss term with a positive weight)',
    });
  }
  if (scale.data.kind === 'scenes' && scale.data.count < scale.batchSize) {
    ctx.addIssue({
      code: 'custom',
      path: ['scale', 'data', 'count'],
      input: scale.data.count,
      message: `at least one batch (scale.batchSize ${scale.batchSize})`,
    });
  }
  if ((optim.warmupEpochs === undefined) === (optim.warmupFraction === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['optim'],
      input: optim,
      message:
        'given exactly one of warmupEpochs (warm-up in epochs) and warmupFraction (warm-up as a share of the run)',
    });
  }
  if (optim.warmupEpochs !== undefined && optim.warmupEpochs > scale.epochs) {
    ctx.addIssue({
      code: 'custom',
      path: ['optim', 'warmupEpochs'],
      input: optim.warmupEpochs,
      message: `at most scale.epochs (${scale.epochs})`,
    });
  }
});

/** A data block in a layer: a whole spec (with `kind`), or changes to the base's (without). */
const dataLayer = z.custom<object>().superRefine((value, ctx) => {
  const hasKind = typeof value === 'object' && value !== null && 'kind' in value;
  const schema = hasKind ? data : obj({ ...pastedFields, numClasses: int(1) }).partial();
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ ...issue });
});

/**
 * The schema of a {@link ConfigLayer}: every field optional at every level; arrays,
 * `teacher`, `paper` and a `data` block with its `kind` are whole values.
 */
export const layerSchema = obj({
  name: NAME.optional(),
  seed: int(0).optional(),
  method: obj(methodShape).partial().optional(),
  scale: obj({
    ...scaleShape,
    backbone: backbone.partial(),
    projector: projector.partial(),
    data: dataLayer,
  })
    .partial()
    .optional(),
  optim: obj(optimShape).partial().optional(),
  augment: augment.optional(),
  teacher: teacher.optional(),
  checkpoint: obj(checkpointShape).partial().optional(),
  paper: paper.optional(),
});

/**
 * Partial of every level of `T`; arrays and the listed whole values stay whole. A field
 * may also be `undefined`, which {@link mergeLayers} reads as "no change".
 */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> | undefined }
    : T;

/**
 * Part of an experiment: a row (its method and paper numbers), a preset (its scale,
 * optimiser and checkpoint interval), a config file, command-line overrides. Layers
 * are merged in order by {@link mergeLayers}, each stating only what differs.
 */
export type ConfigLayer = Omit<DeepPartial<ExperimentConfig>, 'teacher' | 'paper' | 'scale'> & {
  /** The frozen teacher, whole. */
  teacher?: ExperimentConfig['teacher'];
  /** The paper row, whole. */
  paper?: PaperRow;
  /** Scale changes; `data` with a `kind` replaces the base's data when the kinds differ. */
  scale?: Omit<DeepPartial<ExperimentConfig['scale']>, 'data'> & {
    data?: ExperimentConfig['scale']['data'] | DataPatch;
  };
};

/** Changes to a data block that keep its kind (e.g. `{ size: 64 }`). */
export type DataPatch = Partial<
  Omit<Extract<ExperimentConfig['scale']['data'], { kind: 'pasted' }>, 'kind'> & {
    numClasses: number;
  }
>;

/** One problem of a config: where, what was there, and what was expected. */
export interface ConfigIssue {
  /** Field path, e.g. `scale.batchSize` (`` for the whole config). */
  path: string;
  /** The value found (undefined when missing). */
  value: unknown;
  /** What was expected. */
  expected: string;
}

/** A config that does not fit the schema; `message` lists every issue on its own line. */
export class ConfigError extends Error {
  /**
   * @param source - where the config came from (`config`, a file path, `--set`).
   * @param issues - every problem found.
   */
  constructor(
    readonly source: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(issues.map((i) => describeIssue(source, i)).join('\n'));
    this.name = 'ConfigError';
  }
}

function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value === undefined) return 'undefined';
  const json = JSON.stringify(value);
  return json.length > 120 ? `${json.slice(0, 117)}...` : json;
}

function describeIssue(source: string, issue: ConfigIssue): string {
  // `config.scale.batchSize` for a resolved config, `ediy.yaml: scale.batchSize` for a layer.
  const field =
    source === 'config'
      ? [source, issue.path].filter(Boolean).join('.')
      : issue.path === ''
        ? source
        : `${source}: ${issue.path}`;
  if (issue.expected.startsWith('unknown field ')) return `${field} has an ${issue.expected}`;
  if (issue.value === undefined) return `${field} is missing: expected ${issue.expected}`;
  return `${field} must be ${issue.expected}, got ${show(issue.value)}`;
}

function toIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`));
    const where = path.join('').replace(/^\./, '');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
      return {
        path: where,
        value: issue.input,
        expected: `unknown field ${keys}; expected only ${issue.message}`,
      };
    }
    // A discriminated union reports the whole object: show the bad discriminator instead.
    const value =
      issue.code === 'invalid_union' && 'discriminator' in issue && isPlainObject(issue.input)
        ? issue.input[String(issue.discriminator)]
        : issue.input;
    return { path: where, value, expected: issue.message };
  });
}

/**
 * A complete experiment checked against {@link experimentSchema}.
 * @param source - names the config in errors (`config` gives `config.scale.batchSize ...`).
 * @throws ConfigError naming every bad or unknown field, its value and what was expected.
 */
export function parseExperiment(value: unknown, source = 'config'): ExperimentConfig {
  const result = experimentSchema.safeParse(value, { reportInput: true });
  if (!result.success) throw new ConfigError(source, toIssues(result.error));
  return result.data as ExperimentConfig;
}

/**
 * A partial config checked against {@link layerSchema}.
 * @throws ConfigError naming every bad or unknown field, its value and what was expected.
 */
export function parseLayer(value: unknown, source: string): ConfigLayer {
  const result = layerSchema.safeParse(value, { reportInput: true });
  if (!result.success) throw new ConfigError(source, toIssues(result.error));
  return result.data as ConfigLayer;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mergeInto(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
  path: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const here = path ? `${path}.${key}` : key;
    const prev = out[key];
    const whole =
      here === 'teacher' ||
      here === 'paper' ||
      (here === 'scale.data' &&
        isPlainObject(value) &&
        isPlainObject(prev) &&
        'kind' in value &&
        value.kind !== prev.kind);
    out[key] =
      !whole && isPlainObject(value) && isPlainObject(prev) ? mergeInto(prev, value, here) : value;
  }
  // The warm-up is in epochs or a share of the run: a layer stating one drops the other.
  if (path === 'optim') {
    if (over.warmupEpochs !== undefined && over.warmupFraction === undefined)
      delete out.warmupFraction;
    if (over.warmupFraction !== undefined && over.warmupEpochs === undefined)
      delete out.warmupEpochs;
  }
  return out;
}

/**
 * Deep-merges layers, later over earlier: objects merge field by field; arrays,
 * `teacher`, `paper` and values replace; a `scale.data` of another `kind` replaces the
 * data whole; stating `optim.warmupEpochs` drops an earlier `warmupFraction` and the
 * other way round. Undefined fields change nothing. The inputs are not modified.
 */
export function mergeLayers(...layers: readonly ConfigLayer[]): ConfigLayer {
  let out: Record<string, unknown> = {};
  for (const layer of layers) out = mergeInto(out, layer as Record<string, unknown>, '');
  return out as ConfigLayer;
}
