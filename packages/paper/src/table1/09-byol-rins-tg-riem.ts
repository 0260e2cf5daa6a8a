import type { RowConfig } from '@ediy/trainer';
import { TABLE1_BASE, R_INS_R_DEM, TG_R_IEM, table1Paper } from './base.js';

/** Table 1, row 9: BYOL + R-INS R-DEM + TG R-IEM. */
export const row = {
  ...TABLE1_BASE,
  name: 'table1-byol-rins-tg-riem',
  method: { ...TABLE1_BASE.method, regionLosses: [R_INS_R_DEM, TG_R_IEM] },
  paper: table1Paper(9, 'BYOL + R-INS R-DEM + TG R-IEM'),
} satisfies RowConfig;
