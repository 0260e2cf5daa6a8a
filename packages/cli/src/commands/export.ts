/**
 * `ediy export <run> --out <dir>`: the trained online backbone of a run's newest
 * checkpoint, as a TF.js Layers model directory (and, on request, as a torchvision
 * state dict in safetensors for PyTorch fine-tuning).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { exportBackbone } from '@ediy/backbones';
import { stringFlag, type CommandSpec, type ParsedArgs } from '../args.js';
import { setupBackend } from '../backend.js';
import { UsageError } from '../errors.js';
import { loadRunBackbone } from '../evaluate.js';
import { println, type CliIO } from '../io.js';
import { BACKEND_FLAG, backendFlag, requiredString } from '../options.js';

/** The `export` command. */
export const EXPORT_SPEC: CommandSpec = {
  name: 'export',
  summary:
    "Export a run's trained online backbone as a TF.js Layers model directory (loads with tf.loadLayersModel, usable as --teacher).",
  positionals: '<run>',
  arity: { min: 1, max: 1 },
  flags: {
    out: {
      type: 'string',
      value: 'dir',
      description: 'model directory to write (model.json + weights.bin)',
    },
    torchvision: {
      type: 'string',
      value: 'file',
      description:
        'also write the weights as a torchvision state dict (a .safetensors file; see docs/downstream.md)',
    },
    backend: BACKEND_FLAG,
  },
  details: `Example:
  ediy export runs/table1-ediy/seed-0 --out models/ediy-r18 --torchvision models/ediy-r18.safetensors`,
};

/** Runs `ediy export`. */
export async function exportCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const cmd = 'export';
  const run = resolve(args.positionals[0] as string);
  const out = resolve(requiredString(args, 'out', cmd, 'dir'));
  const torchvision = stringFlag(args, 'torchvision');
  if (!existsSync(join(run, 'checkpoints'))) {
    throw new UsageError(
      `ediy ${cmd}: ${JSON.stringify(args.positionals[0])} is not a run directory (expected ${join(run, 'checkpoints')})`,
      cmd,
    );
  }
  await setupBackend(backendFlag(args, cmd), io);
  const { model, config, step } = loadRunBackbone(run);
  try {
    await exportBackbone(model, config.scale.backbone, { format: 'tfjs', out });
    println(io.stderr, `ediy: exported the online backbone of ${run} at step ${step}`);
    println(io.stdout, out);
    if (torchvision) {
      const result = await exportBackbone(model, config.scale.backbone, {
        format: 'torchvision',
        out: torchvision,
        metadata: { format: 'pt', source: `ediy ${config.name} step ${step}` },
      });
      println(io.stdout, result.path);
    }
  } finally {
    model.dispose();
  }
  return 0;
}
