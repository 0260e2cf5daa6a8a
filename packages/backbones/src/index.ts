/**
 * `@ediy/backbones`: ResNet-18/34/50 backbones returning the layer4 region map. This entry
 * imports no Node built-in, so it runs in a browser bundle as well as in Node. Moving
 * weights to and from PyTorch (safetensors, torchvision names and weights) is
 * `@ediy/backbones/interop` (its symbols are still exported here, deprecated); the
 * filesystem part (saving and loading model directories, `exportBackbone` for carrying a
 * trained backbone to PyTorch and Detectron2) is `@ediy/backbones/node`.
 * @packageDocumentation
 */
export * from './config.js';
export * from './resnet.js';
export * from './params.js';
export * from './batchnorm.js';
export * from './conv.js';
export * from './add-relu.js';
export * from './interop-compat.js';
