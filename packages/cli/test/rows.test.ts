import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLE1 } from '@ediy/examples';
import { checkRow, loadRow, UsageError } from '@ediy/cli';
import { tempDir } from './helpers.js';

const rowSource = (name: string) =>
  `export default { name: '${name}', method: { byolWeight: 1, regionLosses: [], localPredictor: true } };\n`;

describe('loadRow', () => {
  it('finds a row of the paper tables by id', async () => {
    const { row, source } = await loadRow('table1/ediy');
    expect(row).toBe(TABLE1.ediy);
    expect(source).toBe('table1/ediy');
  });

  it('loads the default export of a JS or TS module, or its `row` export', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.mjs'), rowSource('from-js'));
    writeFileSync(
      join(dir, 'b.ts'),
      `import type { RowConfig } from '@ediy/trainer';\nexport const row: RowConfig = ${rowSource('from-ts').replace('export default ', '').trim()}\n`,
    );
    expect((await loadRow(join(dir, 'a.mjs'))).row.name).toBe('from-js');
    const b = await loadRow(join(dir, 'b.ts'));
    expect(b.row.name).toBe('from-ts');
    expect(b.source).toBe(join(dir, 'b.ts'));
  });

  it('says what a module lacks', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'none.mjs'), 'export const other = 1;\n');
    await expect(loadRow(join(dir, 'none.mjs'))).rejects.toThrow(
      /must export a RowConfig as its default export or as 'row'; it exports: other/,
    );
    writeFileSync(join(dir, 'broken.mjs'), 'export default {;\n');
    await expect(loadRow(join(dir, 'broken.mjs'))).rejects.toThrow(
      /cannot load config module .*broken.mjs/,
    );
    writeFileSync(join(dir, 'cfg.json'), '{}');
    await expect(loadRow(join(dir, 'cfg.json'))).rejects.toThrow(UsageError);
  });

  it('lists the row ids for an unknown row', async () => {
    await expect(loadRow('table2/nope')).rejects.toThrow(
      /unknown row "table2\/nope".*table1\/byol, .*table2\/equal/,
    );
  });
});

describe('checkRow', () => {
  it('names the first bad field', () => {
    const ok = { name: 'x', method: { byolWeight: 1, regionLosses: [], localPredictor: true } };
    expect(checkRow(ok, 's')).toBe(ok);
    expect(() => checkRow({ ...ok, name: 'a b' }, 's')).toThrow(/config s: name must be/);
    expect(() => checkRow({ ...ok, method: { ...ok.method, byolWeight: '1' } }, 's')).toThrow(
      /method.byolWeight must be a finite number, got "1"/,
    );
    expect(() => checkRow({ ...ok, method: { ...ok.method, regionLosses: {} } }, 's')).toThrow(
      /method.regionLosses must be an array/,
    );
    expect(() => checkRow({ ...ok, method: { byolWeight: 1, regionLosses: [] } }, 's')).toThrow(
      /method.localPredictor must be a boolean/,
    );
    expect(() => checkRow(null, 's')).toThrow(/the export must be a RowConfig object/);
  });
});
