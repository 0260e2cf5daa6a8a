/**
 * `@ediy/core/node`: the Node-only part of `@ediy/core`: {@link writeFileAtomic}, the one
 * atomic, durable file writer every ediy package uses. The root entry `@ediy/core` imports
 * no Node built-in and bundles for the browser.
 * @packageDocumentation
 */
export { writeFileAtomic } from './atomic-write.js';
