/**
 * Tables 3-6 of the paper: BYOL and E-DIY pre-trained 1000 epochs (the `paper` preset),
 * with the numbers the paper reports for them on VOC detection (Table 3), COCO with
 * Mask R-CNN R50-FPN (Table 4, MoCo protocol) and R50-C4 (Table 5), and ImageNet linear
 * evaluation (Table 6). Transfer to those benchmarks runs in PyTorch/Detectron2 from an
 * exported backbone (docs/downstream.md).
 */
import type { RowConfig } from '@ediy/trainer';
import { TABLE1 } from '../table1/index.js';

const numbers = {
  byol: {
    'VOC AP': 53.1,
    'VOC AP50': 81.9,
    'VOC AP75': 58.6,
    'FPN 1x APbb': 41.2,
    'FPN 1x APmk': 37.5,
    'FPN 2x APbb': 42.0,
    'FPN 2x APmk': 38.1,
    'C4 1x APbb': 38.6,
    'C4 1x APmk': 33.6,
    'C4 2x APbb': 41.2,
    'C4 2x APmk': 35.7,
    'IN top-1': 74.3,
    'IN top-5': 91.6,
  },
  ediy: {
    'VOC AP': 58.4,
    'VOC AP50': 83.8,
    'VOC AP75': 65.7,
    'FPN 1x APbb': 41.5,
    'FPN 1x APmk': 37.5,
    'FPN 2x APbb': 42.5,
    'FPN 2x APmk': 38.3,
    'C4 1x APbb': 40.7,
    'C4 1x APmk': 35.3,
    'C4 2x APbb': 42.4,
    'C4 2x APmk': 36.6,
    'IN top-1': 73.8,
    'IN top-5': 91.5,
  },
} as const;

/** BYOL, 1000 epochs, as compared in Tables 3-6. */
export const byol1000 = {
  name: 'comparisons-byol',
  method: TABLE1.byol.method,
  paper: { table: 3, row: 6, label: 'BYOL (Tables 3-6)', epochs: 1000, numbers: numbers.byol },
} satisfies RowConfig;

/** E-DIY, 1000 epochs, as compared in Tables 3-6. */
export const ediy1000 = {
  name: 'comparisons-ediy',
  method: TABLE1.ediy.method,
  paper: { table: 3, row: 7, label: 'E-DIY (Tables 3-6)', epochs: 1000, numbers: numbers.ediy },
} satisfies RowConfig;

/** The comparison rows by id. */
export const COMPARISONS: Readonly<Record<'byol' | 'ediy', RowConfig>> = {
  byol: byol1000,
  ediy: ediy1000,
};
