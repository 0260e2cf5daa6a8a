/**
 * `@ediy/core`: the utilities every ediy package shares, and nothing that needs a
 * TensorFlow.js backend: seeded, splittable random streams ({@link Rng}), input checks
 * whose errors name the value and what was expected ({@link assertShape},
 * {@link assertInteger}, ...), and host arrays (typed arrays with a shape) with their
 * validated readers. `@tensorflow/tfjs-core` is a peer dependency. This entry imports no
 * Node built-in and bundles for the browser; the atomic file writer is `@ediy/core/node`.
 * @packageDocumentation
 */
export * from './device-checks.js';
export * from './host.js';
export * from './random.js';
export * from './validate.js';
