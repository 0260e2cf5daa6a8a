/**
 * `ediy export <run> --out <path> [--format tfjs|torchvision]`: the trained online
 * backbone of a run's newest checkpoint, as a TF.js Layers model directory, or as a
 * torchvision state dict in safetensors for PyTorch fine-tuning (docs/downstream.md).
 */
import { resolve } from 'node:path';
import { isRunDir, runPaths } from '@ediy/core/node';
import { exportBackbone } from '@ediy/backbones/node';
import { loadRunBackbone } from '@ediy/eval/node';
import type { ExperimentConfig } from '@ediy/trainer';
import type { CommandSpec, ParsedArgs } from '../args.js';
import { setupBackend } from '../backend.js';
import { UsageError } from '../errors.js';
import { println, type CliIO } from '../io.js';
import { BACKEND_FLAG, backendFlag, choiceFlag, requiredString } from '../options.js';

/** The formats of `ediy export --format`. */
export const EXPORT_FORMATS = ['tfjs', 'torchvision'] as const;

/** The `export` command. */
export const EXPORT_SPEC: CommandSpec = {
  name: 'export',
  summary:
    "Export a run's trained online backbone: a TF.js Layers model directory (loads with tf.loadLayersModel, usable as --teacher) or a torchvision state dict.",
  positionals: '<run>',
  arity: { min: 1, max: 1 },
  flags: {
    out: {
      type: 'string',
      value: 'path',
      description:
        'what to write: a model directory (model.json + weights.bin) for tfjs, a .safetensors file for torchvision',
    },
    format: {
      type: 'string',
      value: 'tfjs|torchvision',
      description:
        'tfjs: a TF.js Layers model directory; torchvision: a torchvision ResNet state dict (conv1.weight, layer1.0.bn1.running_var, ...; see docs/downstream.md)',
      defaultText: 'tfjs',
    },
    backend: BACKEND_FLAG,
  },
  details: `Example:
  ediy export runs/table1-ediy/seed-0 --out models/ediy-r18
  ediy export runs/table1-ediy/seed-0 --format torchvision --out models/ediy-r18.safetensors`,
};

/** Runs `ediy export`. */
export async function exportCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const cmd = 'export';
  const run = resolve(args.positionals[0] as string);
  const format = choiceFlag(args, 'format', EXPORT_FORMATS, 'tfjs', cmd);
  const out = resolve(
    requiredString(args, 'out', cmd, format === 'tfjs' ? 'dir' : 'file.safetensors'),
  );
  if (format === 'torchvision' && !out.endsWith('.safetensors')) {
    throw new UsageError(
      `ediy ${cmd}: --out must name a .safetensors file with --format torchvision, got ${JSON.stringify(args.values['out'])}`,
      cmd,
    );
  }
  if (!isRunDir(run)) {
    throw new UsageError(
      `ediy ${cmd}: ${JSON.stringify(args.positionals[0])} is not a run directory (expected ${runPaths(run).checkpoints})`,
      cmd,
    );
  }
  await setupBackend(backendFlag(args, cmd), io);
  const { model, config, step } = loadRunBackbone<ExperimentConfig>(run);
  try {
    const result = await exportBackbone(
      model,
      config.scale.backbone,
      format === 'tfjs'
        ? { format, out }
        : { format, out, metadata: { format: 'pt', source: `ediy ${config.name} step ${step}` } },
    );
    println(io.stderr, `ediy: exported the online backbone of ${run} at step ${step} (${format})`);
    println(io.stdout, result.path);
  } finally {
    model.dispose();
  }
  return 0;
}
