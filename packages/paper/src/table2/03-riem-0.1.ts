import type { RowConfig } from '@ediy/trainer';
import { table2Paper, weightedEdiy } from './base.js';

/** Table 2, row 3: loss weights BYOL 1, R-DEM 1, R-IEM 0.1. */
export const row = {
  name: 'table2-riem-0.1',
  method: weightedEdiy({ byol: 1, rDem: 1, rIem: 0.1 }),
  paper: table2Paper(3),
} satisfies RowConfig;
