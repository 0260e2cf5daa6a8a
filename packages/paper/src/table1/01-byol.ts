import type { RowConfig } from '@ediy/trainer';
import { TABLE1_BASE, table1Paper } from './base.js';

/** Table 1, row 1: BYOL alone, the baseline (Eq. 2). */
export const row = {
  ...TABLE1_BASE,
  name: 'table1-byol',
  paper: table1Paper(1, 'BYOL'),
} satisfies RowConfig;
