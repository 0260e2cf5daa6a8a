/**
 * `@ediy/paper`: the E-DIY paper's tables as data, the registry of rows `ediy pretrain`
 * and `ediy reproduce` run by id. One typed config per row of the paper's ablation
 * tables (Tables 1 and 2) and the BYOL / E-DIY pair of its comparisons (Tables 3-6). A
 * row states only its method and its paper numbers; a preset (`smoke`, `mini`, `paper`)
 * sets the scale.
 * @packageDocumentation
 */
import type { RowConfig } from '@ediy/trainer';
import { COMPARISONS } from './comparisons/index.js';
import { TABLE1 } from './table1/index.js';
import { TABLE2 } from './table2/index.js';

export { TABLE1, type Table1RowId } from './table1/index.js';
export {
  TABLE2,
  type Table2RowId,
  type LossWeights,
  weightedEdiy,
  table2Paper,
} from './table2/index.js';
export { COMPARISONS, byol1000, ediy1000 } from './comparisons/index.js';
export {
  TG_R_DEM,
  TG_R_IEM,
  R_R_DEM,
  R_R_IEM,
  R_INS_R_DEM,
  TABLE1_BASE,
  table1Paper,
} from './table1/base.js';
export * from './paper-tables.js';

/** The tables `ediy reproduce` knows. */
export const TABLES = { table1: TABLE1, table2: TABLE2, comparisons: COMPARISONS } as const;

/** A table name of {@link TABLES}. */
export type TableName = keyof typeof TABLES;

/** Every row by its full id (`table1/ediy`, `table2/equal`, `comparisons/byol`, ...). */
export function allRows(): Record<string, RowConfig> {
  const out: Record<string, RowConfig> = {};
  for (const [table, rows] of Object.entries(TABLES)) {
    for (const [id, row] of Object.entries(rows)) out[`${table}/${id}`] = row;
  }
  return out;
}

/** A row by its full id, or an error listing the ids there are. */
export function findRow(id: string): RowConfig {
  const rows = allRows();
  const row = rows[id];
  if (!row)
    throw new Error(`unknown row ${JSON.stringify(id)}; rows are: ${Object.keys(rows).join(', ')}`);
  return row;
}
