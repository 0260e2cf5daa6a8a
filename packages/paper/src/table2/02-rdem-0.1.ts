import type { RowConfig } from '@ediy/trainer';
import { table2Paper, weightedEdiy } from './base.js';

/** Table 2, row 2: loss weights BYOL 1, R-DEM 0.1, R-IEM 1. */
export const row = {
  name: 'table2-rdem-0.1',
  method: weightedEdiy({ byol: 1, rDem: 0.1, rIem: 1 }),
  paper: table2Paper(2),
} satisfies RowConfig;
