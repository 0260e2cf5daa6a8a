/**
 * `@ediy/matchers`: region pairing for region-level losses. Pure functions from feature
 * maps (or crop geometry) to int32 region indices, with no gradient: teacher-guided
 * (Eqs. 4 and 6), random, other-image (R-INS), geometric; a differentiable region gather;
 * and a typed registry of matchers chosen by name.
 * @packageDocumentation
 */
export * from './types.js';
export * from './cosine.js';
export * from './dissimilar-within.js';
export * from './similar-across.js';
export * from './random.js';
export * from './other-image.js';
export * from './geometric.js';
export * from './gather.js';
export * from './registry.js';
export * from './builtin-matchers.js';
