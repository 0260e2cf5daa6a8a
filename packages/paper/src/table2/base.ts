/**
 * Table 2's base: full E-DIY (BYOL + TG R-DEM + TG R-IEM, Eq. 3) pre-trained 100 epochs;
 * each row changes only the three loss weights lambda3 (BYOL), lambda1 (R-DEM),
 * lambda2 (R-IEM).
 */
import type { PaperRow, RowConfig } from '@ediy/trainer';
import { TG_R_DEM, TG_R_IEM } from '../table1/base.js';
import { PAPER_TABLE2 } from '../paper-tables.js';

/** The Eq. 3 weights of a Table 2 row. */
export interface LossWeights {
  /** lambda3, the BYOL term. */
  byol: number;
  /** lambda1, R-DEM. */
  rDem: number;
  /** lambda2, R-IEM. */
  rIem: number;
}

/** E-DIY's method with the given weights. */
export function weightedEdiy(w: LossWeights): RowConfig['method'] {
  return {
    byolWeight: w.byol,
    regionLosses: [
      { ...TG_R_DEM, weight: w.rDem },
      { ...TG_R_IEM, weight: w.rIem },
    ],
    localPredictor: true,
  };
}

/** Table 2, row `row` (1-based) as the paper prints it, pre-trained 100 epochs. */
export function table2Paper(row: number): PaperRow {
  const line = PAPER_TABLE2[row - 1];
  if (!line) throw new Error(`Table 2 has rows 1-${PAPER_TABLE2.length}, got ${row}`);
  return {
    table: 2,
    row,
    label: `BYOL ${line.byol} / R-DEM ${line.rDem} / R-IEM ${line.rIem}`,
    epochs: 100,
    numbers: { ...line.numbers },
  };
}
