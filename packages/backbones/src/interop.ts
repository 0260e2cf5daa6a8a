/**
 * `@ediy/backbones/interop`: moving weights between ediy's ResNets and PyTorch's:
 * safetensors files read from and written to bytes (`readSafetensors`, `writeSafetensors`,
 * float16 and bfloat16 included), torchvision's state-dict names for each layer
 * (`torchvisionStateKeys`), importing and exporting torchvision weights
 * (`importTorchvisionWeights`, `exportTorchvisionWeights`, with the OIHW/HWIO filter
 * layouts) and recognising a torchvision ResNet from its state dict
 * (`inferTorchvisionConfig`). Imports no Node built-in; writing files (`exportBackbone`,
 * whose torchvision output `tools/convert_to_detectron2.py` turns into a Detectron2
 * checkpoint) is `@ediy/backbones/node`.
 * @packageDocumentation
 */
export * from './half.js';
export * from './safetensors.js';
export * from './layout.js';
export * from './torchvision-names.js';
export * from './torchvision-weights.js';
export * from './torchvision-infer.js';
