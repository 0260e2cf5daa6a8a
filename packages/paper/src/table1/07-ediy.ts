import type { RowConfig } from '@ediy/trainer';
import { TABLE1_BASE, TG_R_DEM, TG_R_IEM, table1Paper } from './base.js';

/** Table 1, row 7: BYOL + TG R-DEM + TG R-IEM (E-DIY). */
export const row = {
  ...TABLE1_BASE,
  name: 'table1-ediy',
  method: { ...TABLE1_BASE.method, regionLosses: [TG_R_DEM, TG_R_IEM] },
  paper: table1Paper(7, 'BYOL + TG R-DEM + TG R-IEM (E-DIY)'),
} satisfies RowConfig;
