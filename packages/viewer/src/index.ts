/**
 * `@ediy/viewer`: a web page that shows what E-DIY matches. The root entry is
 * browser-safe: what the page computes (BYOL's two views as the trainer draws them,
 * region maps, the teacher's R-DEM and R-IEM partners, region similarities) and the
 * description of the site it loads. The server and the page's bundling are in
 * `@ediy/viewer/node`.
 * @packageDocumentation
 */
export * from './analysis.js';
export * from './models.js';
export * from './site.js';
export * from './train.js';
