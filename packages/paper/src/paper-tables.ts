/**
 * The paper's ablation tables transcribed (Tables 1 and 2 of "Exploring the Diversity
 * and Invariance in Yourself for Visual Pre-Training Task"): COCO detection (AP^bb) and
 * instance segmentation (AP^mk) of Mask R-CNN R50-FPN 1x fine-tuned from each
 * pre-trained model. Each example row records its line of these tables.
 */

/** The six COCO numbers of Tables 1 and 2. */
export interface CocoNumbers {
  /** Box AP. */
  APbb: number;
  /** Box AP at IoU 0.5. */
  APbb50: number;
  /** Box AP at IoU 0.75. */
  APbb75: number;
  /** Mask AP. */
  APmk: number;
  /** Mask AP at IoU 0.5. */
  APmk50: number;
  /** Mask AP at IoU 0.75. */
  APmk75: number;
}

/** How a row of Table 1 samples its region pairs: teacher-guided, random, random other image. */
export type Sampling = 'TG' | 'R' | 'R-INS' | '-';

/** One line of Table 1 as printed: BYOL used or not, R-DEM and R-IEM sampling, numbers. */
export interface Table1Line {
  /** Whether the BYOL term is used. */
  byol: boolean;
  /** R-DEM column. */
  rDem: Sampling;
  /** R-IEM column. */
  rIem: Sampling;
  /** The row's COCO numbers. */
  numbers: CocoNumbers;
}

const coco = (
  APbb: number,
  APbb50: number,
  APbb75: number,
  APmk: number,
  APmk50: number,
  APmk75: number,
): CocoNumbers => ({
  APbb,
  APbb50,
  APbb75,
  APmk,
  APmk50,
  APmk75,
});

/** Table 1 (300 epochs on ImageNet-1K), in the paper's row order. */
export const PAPER_TABLE1: readonly Table1Line[] = [
  { byol: true, rDem: '-', rIem: '-', numbers: coco(40.1, 61.6, 43.7, 36.7, 58.4, 39.4) },
  { byol: false, rDem: 'TG', rIem: '-', numbers: coco(35.3, 54.7, 38.4, 32.3, 52.0, 34.5) },
  { byol: false, rDem: '-', rIem: 'TG', numbers: coco(3.8, 7.1, 3.7, 3.7, 6.8, 3.6) },
  { byol: false, rDem: 'TG', rIem: 'TG', numbers: coco(39.8, 59.9, 43.5, 36.2, 57.0, 38.9) },
  { byol: true, rDem: 'TG', rIem: '-', numbers: coco(40.5, 61.3, 44.2, 36.8, 58.3, 39.5) },
  { byol: true, rDem: '-', rIem: 'TG', numbers: coco(40.3, 61.5, 44.1, 36.8, 58.4, 39.2) },
  { byol: true, rDem: 'TG', rIem: 'TG', numbers: coco(41.1, 62.2, 45.0, 37.3, 58.9, 40.1) },
  { byol: true, rDem: 'R', rIem: 'R', numbers: coco(40.4, 61.6, 44.2, 36.9, 58.7, 39.4) },
  { byol: true, rDem: 'R-INS', rIem: 'TG', numbers: coco(40.3, 61.5, 43.8, 36.7, 58.4, 39.1) },
];

/** One line of Table 2: the loss weights (lambda3 BYOL, lambda1 R-DEM, lambda2 R-IEM) and numbers. */
export interface Table2Line {
  /** lambda3. */
  byol: number;
  /** lambda1. */
  rDem: number;
  /** lambda2. */
  rIem: number;
  /** The row's COCO numbers. */
  numbers: CocoNumbers;
}

/** Table 2 (100 epochs on ImageNet-1K), in the paper's row order. */
export const PAPER_TABLE2: readonly Table2Line[] = [
  { byol: 0.1, rDem: 1.0, rIem: 1.0, numbers: coco(38.6, 58.5, 41.9, 35.1, 55.7, 37.7) },
  { byol: 1.0, rDem: 0.1, rIem: 1.0, numbers: coco(40.1, 61.2, 43.6, 36.6, 58.1, 39.2) },
  { byol: 1.0, rDem: 1.0, rIem: 0.1, numbers: coco(38.8, 59.3, 42.4, 35.4, 56.1, 37.9) },
  { byol: 1.0, rDem: 1.0, rIem: 1.0, numbers: coco(40.3, 60.8, 44.3, 36.6, 57.6, 39.1) },
];
