/**
 * A table of your own for `ediy reproduce`: BYOL and E-DIY from the paper's Table 1
 * beside a new loss (the region-variance term of `./region-variance.ts`, which this
 * import registers) and E-DIY with half R-DEM's weight. The rows run with the same
 * teacher, seeds and evaluation as the paper's tables, into
 * `reproduce/my-table-<preset>/`:
 *
 * ```sh
 * npx ediy reproduce examples/extending/my-table.ts --preset smoke
 * ```
 */
import type { RowConfig } from '@ediy/trainer';
import { TABLE1, TG_R_DEM, TG_R_IEM } from '@ediy/paper';
import { row as regionVariance } from './region-variance.js';

/** The table's name: it names the output folder. */
export const name = 'my-table';

/** The rows by id, in the order they run and are listed. */
export const rows: Record<string, RowConfig> = {
  byol: TABLE1.byol,
  ediy: TABLE1.ediy,
  'region-variance': regionVariance,
  'ediy-half-rdem': {
    name: 'my-table-ediy-half-rdem',
    method: { ...TABLE1.ediy.method, regionLosses: [{ ...TG_R_DEM, weight: 0.5 }, TG_R_IEM] },
  },
};
