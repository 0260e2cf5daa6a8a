import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLE1 } from '@ediy/paper';
import { ConfigError, resolveExperiment } from '@ediy/trainer';
import { loadConfig, UsageError } from '@ediy/cli';
import { tempDir } from './helpers.js';

const METHOD = { byolWeight: 1, regionLosses: [], localPredictor: true };
const rowSource = (name: string) =>
  `export default { name: '${name}', method: ${JSON.stringify(METHOD)} };\n`;

describe('loadConfig', () => {
  it('finds a row of the paper tables by id', async () => {
    const loaded = await loadConfig('table1/ediy');
    expect(loaded.row).toBe(TABLE1.ediy);
    expect(loaded.file).toBeUndefined();
    expect(loaded.source).toBe('table1/ediy');
  });

  it('loads the default export of a JS or TS module, or its `row` export', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.mjs'), rowSource('from-js'));
    writeFileSync(
      join(dir, 'b.ts'),
      `import type { RowConfig } from '@ediy/trainer';\nexport const row: RowConfig = ${rowSource('from-ts').replace('export default ', '').trim()}\n`,
    );
    expect((await loadConfig(join(dir, 'a.mjs'))).file?.layer.name).toBe('from-js');
    const b = await loadConfig(join(dir, 'b.ts'));
    expect(b.file?.layer).toEqual({ name: 'from-ts', method: METHOD });
    expect(b.source).toBe(join(dir, 'b.ts'));
  });

  it('reads YAML and JSON: a partial config over a base row and a preset', async () => {
    const dir = tempDir();
    const yaml = join(dir, 'run.yaml');
    writeFileSync(
      yaml,
      [
        'base: table1/byol',
        'preset: smoke',
        'name: my-byol',
        'scale:',
        '  backbone: { widthMultiplier: 0.125 }',
        '  imageSize: 24',
        'optim:',
        '  baseLr: 1.0e-1',
        '  warmupFraction: 0.25',
        '',
      ].join('\n'),
    );
    const loaded = await loadConfig(yaml);
    expect(loaded.row).toBe(TABLE1.byol);
    expect(loaded.preset).toBe('smoke');
    const config = resolveExperiment(loaded.row, {
      ...(loaded.preset === undefined ? {} : { preset: loaded.preset }),
      layers: [loaded.file!],
    });
    expect(config.name).toBe('my-byol');
    expect(config.method).toEqual(TABLE1.byol.method);
    expect(config.paper).toEqual(TABLE1.byol.paper);
    expect(config.scale.backbone).toEqual({ depth: 18, stem: 'small', widthMultiplier: 0.125 });
    expect(config.scale.imageSize).toBe(24);
    expect(config.scale.batchSize).toBe(8); // the smoke preset's
    expect(config.optim).toMatchObject({ baseLr: 0.1, warmupFraction: 0.25 });

    const json = join(dir, 'run.json');
    writeFileSync(json, JSON.stringify({ name: 'j', method: METHOD, seed: 4 }));
    const fromJson = await loadConfig(json);
    expect(fromJson.row).toEqual({});
    expect(resolveExperiment(fromJson.row, { layers: [fromJson.file!] }).seed).toBe(4);
  });

  it('names the file, the field, the value and what was expected', async () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: x\nscale:\n  batchSize: -8\n  imagesize: 32\n');
    const error = await loadConfig(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      [
        `${bad}: scale.batchSize must be an integer >= 2, got -8`,
        `${bad}: scale has an unknown field "imagesize"; expected only fields backbone, projector, imageSize, batchSize, accumulate, epochs, maxSteps, data`,
      ].join('\n'),
    );
    // A row module's scale is checked too (it used to be ignored).
    const mod = join(dir, 'row.mjs');
    writeFileSync(
      mod,
      `export default { name: 'r', method: ${JSON.stringify(METHOD)}, scale: { batchSize: -8 } };\n`,
    );
    await expect(loadConfig(mod)).rejects.toThrow(
      `${mod}: scale.batchSize must be an integer >= 2, got -8`,
    );
  });

  it('says what a file lacks or holds wrongly', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'none.mjs'), 'export const other = 1;\n');
    await expect(loadConfig(join(dir, 'none.mjs'))).rejects.toThrow(
      /must export its config as its default export or as 'row'; it exports: other/,
    );
    writeFileSync(join(dir, 'broken.mjs'), 'export default {;\n');
    await expect(loadConfig(join(dir, 'broken.mjs'))).rejects.toThrow(
      /cannot load config module .*broken.mjs/,
    );
    writeFileSync(join(dir, 'broken.yaml'), 'scale: [1,\n');
    await expect(loadConfig(join(dir, 'broken.yaml'))).rejects.toThrow(/cannot parse config/);
    writeFileSync(join(dir, 'list.yaml'), '- 1\n');
    await expect(loadConfig(join(dir, 'list.yaml'))).rejects.toThrow(/must hold an object/);
    writeFileSync(join(dir, 'cfg.txt'), '{}');
    await expect(loadConfig(join(dir, 'cfg.txt'))).rejects.toThrow(UsageError);
    writeFileSync(join(dir, 'base.yaml'), 'base: table9/x\n');
    await expect(loadConfig(join(dir, 'base.yaml'))).rejects.toThrow(
      /unknown base row "table9\/x".*table1\/byol/,
    );
    writeFileSync(join(dir, 'preset.yaml'), 'preset: huge\n');
    await expect(loadConfig(join(dir, 'preset.yaml'))).rejects.toThrow(
      /preset must be one of smoke, mini, paper, got "huge"/,
    );
  });

  it('lists the row ids for an unknown row or a missing file', async () => {
    await expect(loadConfig('table2/nope')).rejects.toThrow(
      /unknown row "table2\/nope".*table1\/byol, .*table2\/equal/,
    );
    await expect(loadConfig('missing.yaml')).rejects.toThrow(
      /config file "missing.yaml" does not exist/,
    );
  });
});
