/**
 * The `ediy` command: dispatches to its sub-commands and turns errors into exit codes
 * (2 for a bad command line, 1 for a failure).
 */
import { commandHelp, parseCommandArgs, type CommandSpec, type ParsedArgs } from './args.js';
import { EVAL_SPEC, evalCommand } from './commands/eval.js';
import { EXPORT_SPEC, exportCommand } from './commands/export.js';
import { IMPORT_SPEC, importWeightsCommand } from './commands/import-weights.js';
import { LIST_SPEC, listCommand } from './commands/list.js';
import { PRETRAIN_SPEC, pretrainCommand } from './commands/pretrain.js';
import { REPORT_SPEC, reportCommand } from './commands/report.js';
import { REPRODUCE_SPEC, reproduceCommand } from './commands/reproduce.js';
import { SALIENCY_SPEC, saliencyCommand } from './commands/saliency.js';
import { VIEW_SPEC, viewCommand } from './commands/view.js';
import { PretrainInterruptedError } from '@ediy/trainer';
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, UsageError } from './errors.js';
import { println, processIO, type CliIO } from './io.js';
import { didYouMean } from './suggest.js';

/** A sub-command: its spec and what runs it. */
export interface Command {
  /** Flags, arguments and help. */
  spec: CommandSpec;
  /** Runs it; resolves to the exit code. */
  run: (args: ParsedArgs, io: CliIO) => Promise<number>;
}

/** The sub-commands, in help order. */
export const COMMANDS: readonly Command[] = [
  { spec: PRETRAIN_SPEC, run: pretrainCommand },
  { spec: EVAL_SPEC, run: evalCommand },
  { spec: REPRODUCE_SPEC, run: reproduceCommand },
  { spec: REPORT_SPEC, run: reportCommand },
  { spec: IMPORT_SPEC, run: importWeightsCommand },
  { spec: EXPORT_SPEC, run: exportCommand },
  { spec: SALIENCY_SPEC, run: saliencyCommand },
  { spec: VIEW_SPEC, run: viewCommand },
  { spec: LIST_SPEC, run: listCommand },
];

/** The top-level help text. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length)) + 2;
  return [
    'Usage: ediy <command> [arguments] [flags]',
    '',
    'E-DIY region-level self-supervised pre-training on TensorFlow.js.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    '',
    "Run 'ediy <command> --help' for a command's flags.",
    'Start here: ediy reproduce table1 --preset smoke',
    '',
  ].join('\n');
}

/**
 * Runs the `ediy` command line `argv` (the words after `ediy`), writing to `io`
 * (default the process's streams).
 * @returns the exit code: 0 on success, 2 for a usage error (unknown command, flag,
 *   row or table; bad flag value; missing argument or path), 130 for a run stopped by
 *   Ctrl-C (it resumes when run again), 1 for any other failure.
 */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr.write(mainHelp());
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = COMMANDS.find((c) => c.spec.name === rest[0]);
    io.stdout.write(topic ? commandHelp(topic.spec) : mainHelp());
    return 0;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  try {
    if (!command) {
      throw new UsageError(
        `unknown command ${JSON.stringify(name)}${didYouMean(
          name,
          COMMANDS.map((c) => c.spec.name),
        )}; expected one of ${COMMANDS.map((c) => c.spec.name).join(', ')}`,
      );
    }
    const args = parseCommandArgs(command.spec, rest);
    if (args.values.help === true) {
      io.stdout.write(commandHelp(command.spec));
      return 0;
    }
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      println(io.stderr, `ediy: error: ${err.message}`);
      println(
        io.stderr,
        err.command
          ? `Run 'ediy ${err.command} --help' for usage.`
          : "Run 'ediy --help' for usage.",
      );
      return EXIT_USAGE;
    }
    if (err instanceof PretrainInterruptedError) {
      // Ctrl-C: said where it stopped and that a rerun resumes; the shell's code for SIGINT.
      println(io.stderr, `ediy: ${err.message}`);
      return EXIT_INTERRUPTED;
    }
    const e = err as Error;
    println(io.stderr, `ediy: error: ${e?.message ?? String(err)}`);
    if (process.env.EDIY_DEBUG && e?.stack) println(io.stderr, e.stack);
    return EXIT_FAILURE;
  }
}
