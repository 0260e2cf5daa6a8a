import type { RowConfig } from '@ediy/trainer';
import { TABLE1_BASE, TG_R_IEM, table1Paper } from './base.js';

/** Table 1, row 3: TG R-IEM. */
export const row = {
  ...TABLE1_BASE,
  name: 'table1-tg-riem',
  method: { ...TABLE1_BASE.method, byolWeight: 0, regionLosses: [TG_R_IEM] },
  paper: table1Paper(3, 'TG R-IEM'),
} satisfies RowConfig;
