/**
 * Table 1 of the paper: which modules matter and how region pairs are sampled. One
 * typed config per row; the map is typed so a missing row fails to compile.
 */
import type { RowConfig } from '@ediy/trainer';
import { row as byol } from './01-byol.js';
import { row as tgRDem } from './02-tg-rdem.js';
import { row as tgRIem } from './03-tg-riem.js';
import { row as tgRDemTgRIem } from './04-tg-rdem-tg-riem.js';
import { row as byolTgRDem } from './05-byol-tg-rdem.js';
import { row as byolTgRIem } from './06-byol-tg-riem.js';
import { row as ediy } from './07-ediy.js';
import { row as byolRR } from './08-byol-r-r.js';
import { row as byolRInsTgRIem } from './09-byol-rins-tg-riem.js';

/** The row ids of Table 1, in the paper's order. */
export type Table1RowId =
  | 'byol'
  | 'tg-rdem'
  | 'tg-riem'
  | 'tg-rdem-tg-riem'
  | 'byol-tg-rdem'
  | 'byol-tg-riem'
  | 'ediy'
  | 'byol-r-r'
  | 'byol-rins-tg-riem';

/** Every row of Table 1 by id, in the paper's order. */
export const TABLE1: Readonly<Record<Table1RowId, RowConfig>> = {
  byol,
  'tg-rdem': tgRDem,
  'tg-riem': tgRIem,
  'tg-rdem-tg-riem': tgRDemTgRIem,
  'byol-tg-rdem': byolTgRDem,
  'byol-tg-riem': byolTgRIem,
  ediy,
  'byol-r-r': byolRR,
  'byol-rins-tg-riem': byolRInsTgRIem,
};

export * from './base.js';
