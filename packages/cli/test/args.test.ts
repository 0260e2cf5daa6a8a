import { describe, expect, it } from 'vitest';
import {
  commandHelp,
  COMMANDS,
  main,
  parseCommandArgs,
  UsageError,
  type CommandSpec,
} from '@ediy/cli';
import { captureIO } from './helpers.js';

const spec: CommandSpec = {
  name: 'demo',
  summary: 'A demo command.',
  positionals: '<thing>',
  arity: { min: 1, max: 1 },
  flags: {
    out: { type: 'string', value: 'dir', description: 'where', defaultText: 'runs' },
    fresh: { type: 'boolean', description: 'restart' },
  },
};

describe('parseCommandArgs', () => {
  it('reads flags and positionals', () => {
    const args = parseCommandArgs(spec, ['x', '--out', 'o', '--fresh']);
    expect(args.positionals).toEqual(['x']);
    expect(args.values.out).toBe('o');
    expect(args.values.fresh).toBe(true);
  });

  it('names an unknown flag and lists the known ones', () => {
    expect(() => parseCommandArgs(spec, ['x', '--nope'])).toThrow(UsageError);
    expect(() => parseCommandArgs(spec, ['x', '--nope'])).toThrow(
      /'--nope'.*--out, --fresh, --help/,
    );
  });

  it('names a flag missing its value', () => {
    expect(() => parseCommandArgs(spec, ['x', '--out'])).toThrow(/--out/);
  });

  it('checks the number of positionals', () => {
    expect(() => parseCommandArgs(spec, [])).toThrow(/missing argument <thing>/);
    expect(() => parseCommandArgs(spec, ['a', 'b'])).toThrow(
      /unexpected argument "b"; expected <thing>/,
    );
  });

  it('skips the positional check for --help', () => {
    expect(parseCommandArgs(spec, ['-h']).values.help).toBe(true);
  });

  it('makes a help text listing every flag with its default', () => {
    const help = commandHelp(spec);
    expect(help).toMatch(/^Usage: ediy demo <thing> \[flags\]/);
    expect(help).toMatch(/--out <dir>\s+where \(default: runs\)/);
    expect(help).toMatch(/--fresh\s+restart/);
    expect(help).toMatch(/-h, --help/);
  });
});

describe('main', () => {
  it('prints the command list for --help and exits 0', async () => {
    const io = captureIO();
    expect(await main(['--help'], io)).toBe(0);
    for (const c of COMMANDS) expect(io.out()).toContain(c.spec.name);
  });

  it('prints each command help with --help and exits 0', async () => {
    for (const c of COMMANDS) {
      const io = captureIO();
      expect(await main([c.spec.name, '--help'], io)).toBe(0);
      expect(io.out()).toContain(`Usage: ediy ${c.spec.name}`);
      for (const flag of Object.keys(c.spec.flags)) expect(io.out()).toContain(`--${flag}`);
    }
  });

  it('rejects a --workers value that is not 1, 2 or auto', async () => {
    for (const command of ['pretrain', 'reproduce']) {
      const io = captureIO();
      const target = command === 'pretrain' ? 'table1/byol' : 'table1';
      expect(await main([command, target, '--workers', '3', '--preset', 'smoke'], io)).toBe(2);
      expect(io.err()).toContain(`ediy ${command}: --workers must be one of 1, 2, auto; got "3"`);
    }
  });

  it('prints a command help for `help <command>`', async () => {
    const io = captureIO();
    expect(await main(['help', 'eval'], io)).toBe(0);
    expect(io.out()).toMatch(/^Usage: ediy eval <run\.\.\.> \[flags\]/);
  });

  it('exits 2 with the usage on stderr when no command is given', async () => {
    const io = captureIO();
    expect(await main([], io)).toBe(2);
    expect(io.err()).toContain('Usage: ediy <command>');
  });

  it('exits 2 naming an unknown command', async () => {
    const io = captureIO();
    expect(await main(['trian'], io)).toBe(2);
    expect(io.err()).toMatch(/unknown command "trian"; expected one of pretrain, eval, reproduce/);
  });

  it('exits 2 naming a bad flag value and what was expected', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['pretrain', 'table1/byol', '--preset', 'huge'],
        /--preset must be one of smoke, mini, paper; got "huge"/,
      ],
      [
        ['pretrain', 'table1/byol', '--backend', 'gpu'],
        /--backend must be one of auto, webgpu, tensorflow, native, wasm, cpu; got "gpu"/,
      ],
      [['pretrain', 'table1/byol', '--seed', '1.5'], /--seed must be an integer >= 0; got "1.5"/],
      [['pretrain', 'table1/byol', '--seeds', '1,1'], /--seeds must list distinct integers/],
      [['pretrain', 'table1/byol', '--seed', '1', '--seeds', '2'], /--seed or --seeds, not both/],
      [
        ['pretrain', 'table1/byol', '--max-steps', '0'],
        /--max-steps 0: scale.maxSteps must be an integer >= 1, got 0/,
      ],
      [
        ['pretrain', 'table1/byol', '--data', '/no/such/dir'],
        /--data "\/no\/such\/dir" does not exist/,
      ],
      [
        ['pretrain', 'table1/nope'],
        /unknown row "table1\/nope"; expected a config file \(.yaml, .* or a row id: table1\/byol/,
      ],
      [['pretrain', 'nope.ts'], /config file "nope.ts" does not exist/],
      [
        ['pretrain', 'table1/ediy', '--preset', 'smoke'],
        /pairs regions with the 'teacher' matcher; pass --teacher/,
      ],
      [['pretrain', 'table1/ediy', '--teacher', '/'], /--teacher "\/" is neither a run directory/],
      [
        ['reproduce', 'table1', '--preset', 'paper'],
        /the paper preset trains on data\/imagenet\/train, which does not exist here; pass --data <path>/,
      ],
      [
        ['reproduce', 'table9'],
        /unknown table "table9"; did you mean "table1"\?; expected one of table1, table2/,
      ],
      [['reproduce', 'table1', '--rows', 'byol,nope'], /--rows: table1 has no row "nope"/],
      [['eval', '/no/such/run'], /"\/no\/such\/run" is not a run directory/],
      [['export', '/no/such/run'], /--out <dir> is required/],
      [['import-weights', 'w.safetensors', '--arch', 'resnet18'], /--out <dir> is required/],
      [
        ['import-weights', 'w.safetensors', '--arch', 'vgg16', '--out', 'x'],
        /--arch must be one of resnet18, resnet34, resnet50; got "vgg16"/,
      ],
      [
        ['import-weights', '/no/w.safetensors', '--arch', 'resnet18', '--out', 'x'],
        /"\/no\/w.safetensors" does not exist/,
      ],
      [['saliency', '/no/run', '--out', 'x.jpg'], /--out must name a .png file/],
    ];
    for (const [argv, message] of cases) {
      const io = captureIO();
      const code = await main(argv, io);
      expect({ argv, code }).toEqual({ argv, code: 2 });
      expect(io.err()).toMatch(message);
      expect(io.err()).toContain(`Run 'ediy ${argv[0]} --help' for usage.`);
    }
  });
});
