import type { RowConfig } from '@ediy/trainer';
import { table2Paper, weightedEdiy } from './base.js';

/** Table 2, row 4: loss weights BYOL 1, R-DEM 1, R-IEM 1. */
export const row = {
  name: 'table2-equal',
  method: weightedEdiy({ byol: 1, rDem: 1, rIem: 1 }),
  paper: table2Paper(4),
} satisfies RowConfig;
