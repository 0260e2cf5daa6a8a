/**
 * `@ediy/losses`: the losses of E-DIY as plain functions of tensors: BYOL (Eq. 2), R-DEM
 * (Eq. 5), R-IEM (Eq. 7), R-INS (Table 1) and their weighted sum (Eq. 3); the RegionLoss
 * interface with a typed registry of region losses chosen by name.
 * @packageDocumentation
 */
export * from './stop-gradient.js';
export * from './byol.js';
export * from './r-dem.js';
export * from './r-iem.js';
export * from './r-dem-instance.js';
export * from './ediy.js';
export * from './region-loss.js';
export * from './region-losses/builtin.js';
export * from './region-losses/dense-contrastive.js';
