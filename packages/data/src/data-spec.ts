/**
 * A run's data from a spec (what the trainer's config and the CLI's `--data` state), as
 * training and held-out parts: the embedded scenes, a path, or scenes pasted from the
 * items at a path onto backgrounds.
 */
import { assertInteger } from '@ediy/core';
import { openPastedScenes, type PastedScenesSpec } from './pasted-scenes.js';
import {
  HELD_OUT_SEED_OFFSET,
  openPathParts,
  type DataParts,
  type HeldOutOptions,
} from './held-out.js';
import { syntheticScenes } from './synthetic.js';
import { toRgb } from './transforms.js';

/**
 * What a run trains on, as the trainer's data config states it: the embedded synthetic
 * scenes, a path in any format this package reads, or scenes pasted from the items at a
 * path ({@link PastedScenesSpec}).
 */
export type DataSpec =
  | {
      /** The embedded, seeded synthetic scenes. */
      kind: 'scenes';
      /** Number of training scenes. */
      count: number;
      /** Side of the square images. */
      size: number;
      /** Number of object classes. */
      numClasses: number;
      /** Dataset seed; the held-out scenes use `seed + HELD_OUT_SEED_OFFSET`. */
      seed: number;
    }
  | {
      /** A path: IDX, CIFAR, or an image folder. */
      kind: 'path';
      /** File or folder. */
      path: string;
      /** Side image-folder images are resized to (default 32). */
      size?: number;
    }
  | PastedScenesSpec;

/** Options of {@link openDataParts}. */
export interface OpenDataPartsOptions extends HeldOutOptions {
  /** Held-out scenes drawn for `kind: 'scenes'` (default `max(64, round(count / 4))`). */
  heldOutCount?: number;
  /** Unreadable images are errors (default false). */
  strict?: boolean;
}

/**
 * The training and held-out parts of a run's data, with three channels: what both
 * pre-training (`train`) and evaluation (`heldOut`) read, so they can never overlap.
 * Replaces opening the same path twice with different rules.
 */
export async function openDataParts(
  spec: DataSpec,
  options: OpenDataPartsOptions = {},
): Promise<DataParts> {
  if (spec?.kind === 'scenes') {
    const heldOutCount = options.heldOutCount ?? Math.max(64, Math.round(spec.count / 4));
    assertInteger(heldOutCount, 1, 'openDataParts: heldOutCount');
    const train = syntheticScenes({
      count: spec.count,
      size: spec.size,
      numClasses: spec.numClasses,
      seed: spec.seed,
    });
    const heldOut = syntheticScenes({
      count: heldOutCount,
      size: spec.size,
      numClasses: spec.numClasses,
      seed: spec.seed + HELD_OUT_SEED_OFFSET,
    });
    return {
      train,
      heldOut,
      how: 'seed',
      unreadable: [],
      report: `synthetic scenes: ${train.size} training and ${heldOut.size} held-out scenes (held out: seed ${spec.seed + HELD_OUT_SEED_OFFSET})`,
    };
  }
  if (spec?.kind === 'pasted') return openPastedScenes(spec, options);
  if (spec?.kind !== 'path') {
    throw new TypeError(
      `openDataParts: spec.kind must be 'scenes', 'path' or 'pasted', got ${String((spec as { kind?: unknown })?.kind)}`,
    );
  }
  const parts = await openPathParts(spec.path, {
    ...options,
    ...(spec.size !== undefined ? { size: spec.size } : {}),
  });
  return { ...parts, train: toRgb(parts.train), heldOut: toRgb(parts.heldOut) };
}

/**
 * Reads a `--data` argument: `scenes:<path>` is scenes pasted from the items at `path`
 * (with `count`, `size` and `seed` from `defaults`); anything else is a path.
 * @throws when the argument is empty.
 */
export function parseDataArg(
  arg: string,
  defaults: { count: number; size: number; seed: number },
): Extract<DataSpec, { kind: 'path' | 'pasted' }> {
  if (typeof arg !== 'string' || arg.length === 0 || arg === 'scenes:') {
    throw new RangeError(
      `data argument must be a path or scenes:<path>, got ${JSON.stringify(arg)}`,
    );
  }
  if (arg.startsWith('scenes:'))
    return { kind: 'pasted', path: arg.slice('scenes:'.length), ...defaults };
  return { kind: 'path', path: arg, size: defaults.size };
}
