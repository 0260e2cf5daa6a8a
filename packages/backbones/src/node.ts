/**
 * `@ediy/backbones/node`: the Node-only part of `@ediy/backbones`, which reads and writes
 * the filesystem: saving and loading TF.js Layers directories (`saveModelToDir`,
 * `loadModelFromDir`, `file://` URLs through `registerFileRouter`) and `exportBackbone`,
 * which writes a trained backbone as a Layers directory or a torchvision `.safetensors`
 * file. The root entry `@ediy/backbones` (the models, safetensors from bytes, the
 * torchvision name maps) imports no Node built-in and bundles for the browser.
 * @packageDocumentation
 */
export * from './fs-io.js';
export * from './export.js';
