/**
 * `ediy import-weights <file.safetensors> --arch resnet50 --out <dir>`: a torchvision
 * ResNet state dict saved as safetensors, written as a TF.js Layers model directory
 * that `tf.loadLayersModel` loads and `--teacher` accepts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { resnet, type ResNetConfig } from '@ediy/backbones';
import {
  importTorchvisionWeights,
  inferTorchvisionConfig,
  readSafetensors,
} from '@ediy/backbones/interop';
import { saveModelToDir } from '@ediy/backbones/node';
import { booleanFlag, stringFlag, type CommandSpec, type ParsedArgs } from '../args.js';
import { setupBackend } from '../backend.js';
import { UsageError } from '../errors.js';
import { println, type CliIO } from '../io.js';
import { BACKEND_FLAG, backendFlag, choiceFlag, requiredString } from '../options.js';

/** The architectures `--arch` accepts. */
export const ARCHS = ['resnet18', 'resnet34', 'resnet50'] as const;

/** The `import-weights` command. */
export const IMPORT_SPEC: CommandSpec = {
  name: 'import-weights',
  summary:
    'Import a torchvision ResNet state dict (.safetensors) as a TF.js Layers model directory (usable as --teacher).',
  positionals: '<file.safetensors>',
  arity: { min: 1, max: 1 },
  flags: {
    arch: {
      type: 'string',
      value: ARCHS.join('|'),
      description:
        'the architecture the weights must be (checked against the state dict, whose depth, stem and width are read off its shapes)',
    },
    out: {
      type: 'string',
      value: 'dir',
      description: 'model directory to write (model.json + weights.bin)',
    },
    'non-strict': {
      type: 'boolean',
      description: 'load the keys that match and report missing/unexpected ones instead of failing',
    },
    backend: BACKEND_FLAG,
  },
  details: `In PyTorch: safetensors.torch.save_file(torchvision.models.resnet50(weights=...).state_dict(), 'r50.safetensors').
Example:
  ediy import-weights r50.safetensors --arch resnet50 --out models/r50-byol
  ediy pretrain table1/ediy --preset paper --teacher models/r50-byol`,
};

/** Runs `ediy import-weights`. */
export async function importWeightsCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const cmd = 'import-weights';
  const file = resolve(args.positionals[0] as string);
  const arch =
    stringFlag(args, 'arch') === undefined
      ? undefined
      : choiceFlag(args, 'arch', ARCHS, 'resnet50', cmd);
  const out = resolve(requiredString(args, 'out', cmd, 'dir'));
  if (!existsSync(file))
    throw new UsageError(
      `ediy ${cmd}: ${JSON.stringify(args.positionals[0])} does not exist; expected a .safetensors file`,
      cmd,
    );
  const prefer = backendFlag(args, cmd);
  await setupBackend(prefer, io);
  const state = readSafetensors(new Uint8Array(readFileSync(file)), file);
  let config: ResNetConfig;
  try {
    config = inferTorchvisionConfig(state);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`, { cause: err });
  }
  if (arch !== undefined && `resnet${config.depth}` !== arch) {
    throw new Error(
      `${file} holds a resnet${config.depth} state dict (read off its keys), not the --arch ${arch} asked for`,
    );
  }
  println(
    io.stderr,
    `ediy: ${file}: resnet${config.depth}, ${config.stem} stem, width x${config.widthMultiplier ?? 1}`,
  );
  const model = resnet({ ...config, name: `resnet${config.depth}` });
  try {
    const report = importTorchvisionWeights(model, state, {
      strict: !booleanFlag(args, 'non-strict'),
    });
    await saveModelToDir(model, out);
    println(
      io.stderr,
      `ediy: loaded ${report.loaded.length} tensors, ignored ${report.ignored.length} (fc, num_batches_tracked)`,
    );
    if (report.missing.length > 0)
      println(
        io.stderr,
        `ediy: missing (left at their initial values): ${report.missing.join(', ')}`,
      );
    if (report.unexpected.length > 0)
      println(io.stderr, `ediy: unexpected (not loaded): ${report.unexpected.join(', ')}`);
    println(io.stdout, out);
  } finally {
    model.dispose();
  }
  return 0;
}
