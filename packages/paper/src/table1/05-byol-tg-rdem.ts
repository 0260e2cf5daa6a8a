import type { RowConfig } from '@ediy/trainer';
import { TABLE1_BASE, TG_R_DEM, table1Paper } from './base.js';

/** Table 1, row 5: BYOL + TG R-DEM. */
export const row = {
  ...TABLE1_BASE,
  name: 'table1-byol-tg-rdem',
  method: { ...TABLE1_BASE.method, regionLosses: [TG_R_DEM] },
  paper: table1Paper(5, 'BYOL + TG R-DEM'),
} satisfies RowConfig;
