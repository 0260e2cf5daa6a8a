/**
 * `@ediy/backbones`: ResNet-18/34/50 backbones returning the layer4 region map, with
 * torchvision weight import and export (safetensors read from and written to bytes). This
 * entry imports no Node built-in, so it runs in a browser bundle as well as in Node; the
 * filesystem part (saving and loading model directories, `exportBackbone` for carrying a
 * trained backbone to PyTorch and Detectron2) is `@ediy/backbones/node`.
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
export * from './torchvision-infer.js';
