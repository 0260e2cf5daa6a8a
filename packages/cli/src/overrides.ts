/**
 * Command-line overrides of a config: flags for the common fields (`--arch resnet50
 * --width 1 --image-size 64 --batch 256 --accumulate 4 --epochs 100 --lr 1.0 --wd 1e-5
 * --tau0 0.99 --max-steps 500`) and a generic `--set scale.batchSize=256`. Each becomes a
 * config layer over the preset and the config file, checked by the experiment schema,
 * so a bad value is an error naming the flag, the field, the value and what was expected.
 */
import { parse as parseYaml } from 'yaml';
import type { ConfigLayer } from '@ediy/trainer';
import { stringFlag, stringsFlag, type FlagSpec, type ParsedArgs } from './args.js';
import { UsageError } from './errors.js';

/** `--arch` choices and the ResNet depth of each. */
export const ARCHS = { resnet18: 18, resnet34: 34, resnet50: 50 } as const;

/** What each override flag sets: the field path and how its value is read. */
const FIELDS: ReadonlyArray<{
  flag: string;
  path: readonly string[];
  read: 'int' | 'number' | 'arch';
  spec: FlagSpec;
}> = [
  {
    flag: 'arch',
    path: ['scale', 'backbone', 'depth'],
    read: 'arch',
    spec: {
      type: 'string',
      value: Object.keys(ARCHS).join('|'),
      description: 'backbone (scale.backbone.depth)',
    },
  },
  {
    flag: 'width',
    path: ['scale', 'backbone', 'widthMultiplier'],
    read: 'number',
    spec: {
      type: 'string',
      value: 'x',
      description:
        'backbone width multiplier, 1 = the standard ResNet (scale.backbone.widthMultiplier)',
    },
  },
  {
    flag: 'image-size',
    path: ['scale', 'imageSize'],
    read: 'int',
    spec: {
      type: 'string',
      value: 'px',
      description: 'side of each augmented view (scale.imageSize)',
    },
  },
  {
    flag: 'batch',
    path: ['scale', 'batchSize'],
    read: 'int',
    spec: { type: 'string', value: 'n', description: 'images per micro-batch (scale.batchSize)' },
  },
  {
    flag: 'accumulate',
    path: ['scale', 'accumulate'],
    read: 'int',
    spec: {
      type: 'string',
      value: 'n',
      description:
        'micro-batches per optimiser step; effective batch = batch x accumulate (scale.accumulate)',
    },
  },
  {
    flag: 'epochs',
    path: ['scale', 'epochs'],
    read: 'int',
    spec: { type: 'string', value: 'n', description: 'training epochs (scale.epochs)' },
  },
  {
    flag: 'max-steps',
    path: ['scale', 'maxSteps'],
    read: 'int',
    spec: {
      type: 'string',
      value: 'n',
      description:
        'a shorter run of at most n optimiser steps: the whole schedule (the warm-up share, the cosine LR down to 0, the EMA tau up to 1) is fitted to min(n, epochs x steps per epoch) steps (scale.maxSteps)',
    },
  },
  {
    flag: 'lr',
    path: ['optim', 'baseLr'],
    read: 'number',
    spec: {
      type: 'string',
      value: 'x',
      description: 'learning rate per 256 images, scaled by effective batch / 256 (optim.baseLr)',
    },
  },
  {
    flag: 'wd',
    path: ['optim', 'weightDecay'],
    read: 'number',
    spec: { type: 'string', value: 'x', description: 'LARS weight decay (optim.weightDecay)' },
  },
  {
    flag: 'tau0',
    path: ['optim', 'tau0'],
    read: 'number',
    spec: {
      type: 'string',
      value: 'x',
      description: 'initial EMA momentum of the target, raised to 1 on a cosine (optim.tau0)',
    },
  },
];

/** The override flags, for a command's spec. */
export const OVERRIDE_FLAGS: Readonly<Record<string, FlagSpec>> = {
  ...Object.fromEntries(FIELDS.map((f) => [f.flag, f.spec])),
  set: {
    type: 'string',
    value: 'path=value',
    multiple: true,
    description:
      'set any config field, e.g. --set scale.batchSize=256 --set optim.warmupFraction=0.05; the value is read as YAML (numbers, true/false, {kind: path, path: data})',
  },
};

/** A layer that sets `value` at `path`. */
function layerAt(path: readonly string[], value: unknown): ConfigLayer {
  let out: unknown = value;
  for (const key of [...path].reverse()) out = { [key]: out };
  return out as ConfigLayer;
}

function readNumber(flag: string, text: string, command: string, integer: boolean): number {
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `ediy ${command}: --${flag} must be ${integer ? 'an integer' : 'a number'}; got ${JSON.stringify(text)}`,
      command,
    );
  }
  return n;
}

/** One `--set path=value` as a layer. */
export function setLayer(text: string, command: string): ConfigLayer {
  const eq = text.indexOf('=');
  const path = eq < 0 ? '' : text.slice(0, eq).trim();
  if (!/^[A-Za-z]\w*(\.[A-Za-z]\w*)*$/.test(path)) {
    throw new UsageError(
      `ediy ${command}: --set must be <field.path>=<value> (e.g. scale.batchSize=256); got ${JSON.stringify(text)}`,
      command,
    );
  }
  let value: unknown;
  try {
    value = parseYaml(text.slice(eq + 1));
  } catch (err) {
    throw new UsageError(
      `ediy ${command}: --set ${path}: the value ${JSON.stringify(text.slice(eq + 1))} is not valid YAML (${(err as Error).message.split('\n')[0]})`,
      command,
    );
  }
  return layerAt(path.split('.'), value);
}

/** A command-line override: the layer and the words that gave it (its source in errors). */
export interface Override {
  /** The config layer. */
  layer: ConfigLayer;
  /** `--batch 256`, `--set scale.batchSize=256`. */
  source: string;
}

/**
 * The overrides given on a command line, in precedence order: the field flags in a fixed
 * order, then each `--set` in the order given (a later one wins).
 * @throws UsageError for a value that is not a number (or an `--arch` choice), or a
 *   malformed `--set`. Range and field checks are the schema's, when the layers resolve.
 */
export function overridesOf(args: ParsedArgs, command: string): Override[] {
  const out: Override[] = [];
  for (const field of FIELDS) {
    const text = stringFlag(args, field.flag);
    if (text === undefined) continue;
    let value: number;
    if (field.read === 'arch') {
      const depth = (ARCHS as Readonly<Record<string, number>>)[text];
      if (depth === undefined) {
        throw new UsageError(
          `ediy ${command}: --arch must be one of ${Object.keys(ARCHS).join(', ')}; got ${JSON.stringify(text)}`,
          command,
        );
      }
      value = depth;
    } else {
      value = readNumber(field.flag, text, command, field.read === 'int');
    }
    out.push({ layer: layerAt(field.path, value), source: `--${field.flag} ${text}` });
  }
  for (const text of stringsFlag(args, 'set'))
    out.push({ layer: setLayer(text, command), source: `--set ${text}` });
  return out;
}
