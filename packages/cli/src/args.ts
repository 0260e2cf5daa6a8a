/**
 * Command-line parsing on node's `util.parseArgs`: each command declares its flags once
 * ({@link CommandSpec}), and both the parser and the `--help` text come from that.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';
import { didYouMean } from './suggest.js';

/** One flag of a command. */
export interface FlagSpec {
  /** `string` takes a value (`--out dir`), `boolean` is a switch (`--help`). */
  type: 'string' | 'boolean';
  /** One-letter alias (`-h`). */
  short?: string;
  /** Name of the value in the help text (`<dir>`). */
  value?: string;
  /** What the flag does, for the help text. */
  description: string;
  /**
   * Default shown in the help text (the command applies it); `undefined` shows none (a
   * command reusing a shared flag whose default it does not have).
   */
  defaultText?: string | undefined;
  /** The flag may be given several times (`--set a=1 --set b=2`); its value is then a list. */
  multiple?: boolean;
}

/** A command: its name, what it does, its positional arguments and its flags. */
export interface CommandSpec {
  /** The command word (`pretrain`). */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Positional arguments as the usage line writes them (`<config|row>`). */
  positionals: string;
  /** Fewest and most positional arguments (`max` Infinity for a list). */
  arity: { min: number; max: number };
  /** The flags. `--help` is added to every command. */
  flags: Readonly<Record<string, FlagSpec>>;
  /** Further paragraphs of the help text (examples, notes). */
  details?: string;
}

/** A parsed command line. */
export interface ParsedArgs {
  /** Flag values by long name (a list for a flag with `multiple`). */
  values: Record<string, string | boolean | string[] | undefined>;
  /** The positional arguments. */
  positionals: string[];
}

const HELP_FLAG: FlagSpec = { type: 'boolean', short: 'h', description: 'show this help' };

/**
 * Parses `argv` (the words after the command) against `spec`. Unknown flags, a missing
 * flag value, a value given to a switch, and a wrong number of positionals are
 * {@link UsageError}s naming the flag or argument and what was expected. `--help`
 * skips the positional check.
 */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const options: Record<
    string,
    { type: 'string' | 'boolean'; short?: string; multiple?: boolean }
  > = {};
  for (const [name, flag] of Object.entries({ ...spec.flags, help: HELP_FLAG })) {
    options[name] = {
      type: flag.type,
      ...(flag.short ? { short: flag.short } : {}),
      ...(flag.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(describeParseError(spec, err as Error & { code?: string }), spec.name);
  }
  const values = parsed.values as ParsedArgs['values'];
  const positionals = parsed.positionals;
  if (values.help === true) return { values, positionals };
  const { min, max } = spec.arity;
  if (positionals.length < min) {
    throw new UsageError(
      `ediy ${spec.name}: missing argument ${spec.positionals} (usage: ${usageLine(spec)})`,
      spec.name,
    );
  }
  if (positionals.length > max) {
    const extra = positionals
      .slice(max)
      .map((p) => JSON.stringify(p))
      .join(', ');
    throw new UsageError(
      `ediy ${spec.name}: unexpected argument ${extra}; expected ${spec.positionals || 'no arguments'}`,
      spec.name,
    );
  }
  return { values, positionals };
}

function describeParseError(spec: CommandSpec, err: Error & { code?: string }): string {
  const flags = Object.keys(spec.flags).map((f) => `--${f}`);
  const known = [...flags, '--help'].join(', ');
  // node's messages name the flag (e.g. "Unknown option '--foo'"); keep them, add what was expected.
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const given = /'(-[^']*)'/.exec(err.message)?.[1] ?? '';
      const hint = given.startsWith('--') ? didYouMean(given, [...flags, '--help']) : '';
      return `ediy ${spec.name}: ${firstSentence(err.message)}${hint}; the flags of ${spec.name} are: ${known}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return `ediy ${spec.name}: ${firstSentence(err.message)}`;
    default:
      return `ediy ${spec.name}: ${err.message}`;
  }
}

function firstSentence(message: string): string {
  const cut = message.indexOf('. ');
  return cut < 0 ? message.replace(/\.$/, '') : message.slice(0, cut);
}

/** `ediy <name> <positionals> [flags]`. */
export function usageLine(spec: CommandSpec): string {
  return `ediy ${spec.name}${spec.positionals ? ` ${spec.positionals}` : ''} [flags]`;
}

/** The `--help` text of a command, made from its spec. */
export function commandHelp(spec: CommandSpec): string {
  const rows = Object.entries({ ...spec.flags, help: HELP_FLAG }).map(([name, flag]) => {
    const left = `${flag.short ? `-${flag.short}, ` : '    '}--${name}${flag.type === 'string' ? ` <${flag.value ?? 'value'}>` : ''}${flag.multiple ? ' ...' : ''}`;
    const right = `${flag.description}${flag.defaultText ? ` (default: ${flag.defaultText})` : ''}`;
    return [left, right] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const lines = [
    `Usage: ${usageLine(spec)}`,
    '',
    spec.summary,
    '',
    'Flags:',
    ...rows.map(([l, r]) => `  ${l.padEnd(width)}${r}`),
  ];
  if (spec.details) lines.push('', spec.details.trim());
  return `${lines.join('\n')}\n`;
}

/** A string flag's value, or undefined when it was not given. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** Every value of a flag given several times (`multiple`), in order; empty when absent. */
export function stringsFlag(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** A boolean flag's value (false when absent). */
export function booleanFlag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}
