/**
 * `@ediy/data`: datasets and batch loaders. The embedded default is
 * {@link syntheticScenes} (seeded multi-object scenes with masks and boxes, no
 * download); real data comes from IDX (MNIST, Fashion-MNIST), CIFAR binary batches and
 * folders of JPEG/PNG images; {@link pasteScenes} turns any labeled single-object dataset
 * into scenes with masks. Datasets hold JS typed arrays; {@link Loader} makes tensors.
 * @packageDocumentation
 */
export * from './types.js';
export * from './array-dataset.js';
export * from './synthetic.js';
export * from './idx.js';
export * from './cifar.js';
export * from './decode.js';
export * from './resize.js';
export * from './image-folder.js';
export * from './paste.js';
export * from './transforms.js';
export * from './loader.js';
export * from './scan.js';
export * from './crop.js';
export * from './streaming.js';
export * from './stratified.js';
export * from './folder-dataset.js';
export * from './held-out.js';
export * from './pasted-scenes.js';
export * from './data-spec.js';
export * from './training-data.js';
export { isGzip } from './files.js';
export * from './open.js';
export * from './eval-parts.js';
