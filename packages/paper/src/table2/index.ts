/** Table 2 of the paper: the loss weights of Eq. 3. One typed config per row. */
import type { RowConfig } from '@ediy/trainer';
import { row as byolLow } from './01-byol-0.1.js';
import { row as rDemLow } from './02-rdem-0.1.js';
import { row as rIemLow } from './03-riem-0.1.js';
import { row as equal } from './04-equal.js';

/** The row ids of Table 2, in the paper's order. */
export type Table2RowId = 'byol-0.1' | 'rdem-0.1' | 'riem-0.1' | 'equal';

/** Every row of Table 2 by id, in the paper's order. */
export const TABLE2: Readonly<Record<Table2RowId, RowConfig>> = {
  'byol-0.1': byolLow,
  'rdem-0.1': rDemLow,
  'riem-0.1': rIemLow,
  equal,
};

export * from './base.js';
