import type { RowConfig } from '@ediy/trainer';
import { TABLE1_BASE, R_R_DEM, R_R_IEM, table1Paper } from './base.js';

/** Table 1, row 8: BYOL + R R-DEM + R R-IEM. */
export const row = {
  ...TABLE1_BASE,
  name: 'table1-byol-r-r',
  method: { ...TABLE1_BASE.method, regionLosses: [R_R_DEM, R_R_IEM] },
  paper: table1Paper(8, 'BYOL + R R-DEM + R R-IEM'),
} satisfies RowConfig;
