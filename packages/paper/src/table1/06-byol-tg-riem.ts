import type { RowConfig } from '@ediy/trainer';
import { TABLE1_BASE, TG_R_IEM, table1Paper } from './base.js';

/** Table 1, row 6: BYOL + TG R-IEM. */
export const row = {
  ...TABLE1_BASE,
  name: 'table1-byol-tg-riem',
  method: { ...TABLE1_BASE.method, regionLosses: [TG_R_IEM] },
  paper: table1Paper(6, 'BYOL + TG R-IEM'),
} satisfies RowConfig;
