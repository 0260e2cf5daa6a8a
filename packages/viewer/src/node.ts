/**
 * `@ediy/viewer/node`: reads run folders, bundles the page with esbuild and serves it on
 * localhost (`ediy view`), or writes it as a static folder.
 * @packageDocumentation
 */
export * from './bundle.js';
export * from './model-file.js';
export * from './run-folder.js';
export * from './server.js';
