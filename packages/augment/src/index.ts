/**
 * `@ediy/augment`: BYOL view pipeline, batched on the backend, recording crop boxes.
 * @packageDocumentation
 */
export {};
