/**
 * `@ediy/backbones`: ResNet-18/34/50 backbones returning the layer4 region map, with
 * torchvision weight import and export (safetensors), filesystem model saving, and
 * `exportBackbone` for carrying a trained backbone to PyTorch and Detectron2.
 * @packageDocumentation
 */
export * from './config.js';
export * from './resnet.js';
export * from './params.js';
export * from './half.js';
export * from './safetensors.js';
export * from './layout.js';
export * from './torchvision-names.js';
export * from './torchvision-weights.js';
export * from './fs-io.js';
export * from './export.js';
export * from './torchvision-infer.js';
