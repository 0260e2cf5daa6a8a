/**
 * `@ediy/backbones`: ResNet-18/34/50 backbones returning the layer4 region map, with torchvision weight import.
 * @packageDocumentation
 */
export {};
