/**
 * `@ediy/data`: Datasets and batch loaders: embedded synthetic scenes, IDX, CIFAR, image folders.
 * @packageDocumentation
 */
export {};
