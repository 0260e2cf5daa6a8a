import type { RowConfig } from '@ediy/trainer';
import { TABLE1_BASE, TG_R_DEM, TG_R_IEM, table1Paper } from './base.js';

/** Table 1, row 4: TG R-DEM + TG R-IEM. */
export const row = {
  ...TABLE1_BASE,
  name: 'table1-tg-rdem-tg-riem',
  method: { ...TABLE1_BASE.method, byolWeight: 0, regionLosses: [TG_R_DEM, TG_R_IEM] },
  paper: table1Paper(4, 'TG R-DEM + TG R-IEM'),
} satisfies RowConfig;
