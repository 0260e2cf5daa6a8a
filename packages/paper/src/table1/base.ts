/**
 * Table 1's base: every row of Table 1 spreads this and states only its loss terms.
 * All weights are 1 (the paper's default, the last row of Table 2); the local branch
 * has a predictor (DESIGN.md; see docs/paper-notes.md for the other reading).
 */
import type { PaperRow, RegionTermConfig, RowConfig } from '@ediy/trainer';
import { PAPER_TABLE1 } from '../paper-tables.js';

/** R-DEM with teacher-guided pairs (Eqs. 4-5), weight lambda1 = 1. */
export const TG_R_DEM: RegionTermConfig = { loss: 'r-dem', weight: 1, matcher: 'teacher' };
/** R-IEM with teacher-guided pairs (Eqs. 6-7), weight lambda2 = 1. */
export const TG_R_IEM: RegionTermConfig = { loss: 'r-iem', weight: 1, matcher: 'teacher' };
/** R-DEM with a random region of the same view (Table 1 "R"). */
export const R_R_DEM: RegionTermConfig = { loss: 'r-dem', weight: 1, matcher: 'random' };
/** R-IEM with a random region of the other view (Table 1 "R"). */
export const R_R_IEM: RegionTermConfig = { loss: 'r-iem', weight: 1, matcher: 'random' };
/** R-DEM's R-INS variant: the negative is another image's global feature (DenseCL-style). */
export const R_INS_R_DEM: RegionTermConfig = { loss: 'r-dem-ins', weight: 1, matcher: 'random' };

/** Table 1's base row: BYOL alone (lambda3 = 1), no region term. */
export const TABLE1_BASE = {
  method: { byolWeight: 1, regionLosses: [], localPredictor: true },
} as const satisfies Omit<RowConfig, 'name'>;

/** Table 1, row `row` (1-based) as the paper prints it, pre-trained 300 epochs. */
export function table1Paper(row: number, label: string): PaperRow {
  const line = PAPER_TABLE1[row - 1];
  if (!line) throw new Error(`Table 1 has rows 1-${PAPER_TABLE1.length}, got ${row}`);
  return { table: 1, row, label, epochs: 300, numbers: { ...line.numbers } };
}
