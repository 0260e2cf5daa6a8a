import { describe, expect, it } from 'vitest';
import type { RowConfig } from '@ediy/trainer';
import {
  PAPER_TABLE1,
  PAPER_TABLE2,
  TABLE1,
  TABLE2,
  allRows,
  findRow,
  type Sampling,
} from '../src/index.js';

/** What a row's R-DEM or R-IEM column reads as, from its config. */
function column(row: RowConfig, kind: 'r-dem' | 'r-iem'): Sampling {
  const term = row.method.regionLosses.find(
    (t) => t.loss === kind || (kind === 'r-dem' && t.loss === 'r-dem-ins'),
  );
  if (!term) return '-';
  if (term.loss === 'r-dem-ins') return 'R-INS';
  return term.matcher === 'teacher'
    ? 'TG'
    : term.matcher === 'random'
      ? 'R'
      : (term.matcher as Sampling);
}

describe('Table 1', () => {
  const rows = Object.values(TABLE1);

  it('has one config per row of the paper, in order', () => {
    expect(rows).toHaveLength(PAPER_TABLE1.length);
    rows.forEach((row, i) => expect(row.paper?.row).toBe(i + 1));
  });

  it.each(PAPER_TABLE1.map((line, i) => [i + 1, line] as const))(
    'row %i states the modules the paper lists',
    (n, line) => {
      const row = rows.find((r) => r.paper?.row === n);
      expect(row, `Table 1 row ${n} has no config`).toBeDefined();
      const r = row as RowConfig;
      expect(r.method.byolWeight > 0).toBe(line.byol);
      expect(column(r, 'r-dem')).toBe(line.rDem);
      expect(column(r, 'r-iem')).toBe(line.rIem);
      expect(r.paper?.numbers).toEqual(line.numbers);
      expect(r.paper?.epochs).toBe(300);
      // Table 1 varies modules only: every weight is 1.
      for (const t of r.method.regionLosses) expect(t.weight).toBe(1);
      if (line.byol) expect(r.method.byolWeight).toBe(1);
    },
  );
});

describe('Table 2', () => {
  const rows = Object.values(TABLE2);

  it.each(PAPER_TABLE2.map((line, i) => [i + 1, line] as const))(
    'row %i has the paper weights',
    (n, line) => {
      const row = rows.find((r) => r.paper?.row === n);
      expect(row, `Table 2 row ${n} has no config`).toBeDefined();
      const r = row as RowConfig;
      expect(r.method.byolWeight).toBe(line.byol);
      expect(r.method.regionLosses.map((t) => [t.loss, t.matcher, t.weight])).toEqual([
        ['r-dem', 'teacher', line.rDem],
        ['r-iem', 'teacher', line.rIem],
      ]);
      expect(r.paper?.numbers).toEqual(line.numbers);
      expect(r.paper?.epochs).toBe(100);
    },
  );

  it('has exactly the paper rows', () => {
    expect(rows).toHaveLength(PAPER_TABLE2.length);
  });
});

describe('row lookup', () => {
  it('finds rows by full id and has unique run names', () => {
    expect(findRow('table1/ediy').name).toBe('table1-ediy');
    const names = Object.values(allRows()).map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('names the known rows for an unknown id', () => {
    expect(() => findRow('table1/nope')).toThrow(
      /unknown row "table1\/nope"; rows are: table1\/byol, /,
    );
  });
});
