import type { RowConfig } from '@ediy/trainer';
import { table2Paper, weightedEdiy } from './base.js';

/** Table 2, row 1: loss weights BYOL 0.1, R-DEM 1, R-IEM 1. */
export const row = {
  name: 'table2-byol-0.1',
  method: weightedEdiy({ byol: 0.1, rDem: 1, rIem: 1 }),
  paper: table2Paper(1),
} satisfies RowConfig;
