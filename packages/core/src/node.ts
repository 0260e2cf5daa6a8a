/**
 * `@ediy/core/node`: the Node-only part of `@ediy/core`: {@link writeFileAtomic}, the one
 * atomic, durable file writer every ediy package uses (and {@link syncFolder}, its folder flush), and the run directory (its layout
 * and the readers and writers of `config.json`, `log.jsonl`, `eval.json` and the
 * checkpoints' folders), which pre-training writes and evaluation, the viewer and the
 * command line read. The root entry `@ediy/core` imports no Node built-in and bundles for
 * the browser.
 * @packageDocumentation
 */
export { syncFolder, writeFileAtomic } from './atomic-write.js';
export * from './run-dir.js';
