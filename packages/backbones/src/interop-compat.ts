/**
 * The interop symbols that moved to `@ediy/backbones/interop`, still exported from the
 * root entry so code importing them from `@ediy/backbones` keeps working. Import them from
 * `@ediy/backbones/interop` instead.
 */
import * as interop from './interop.js';

/** @deprecated Moved to `@ediy/backbones/interop`; import `halfToFloat` from there. */
export const halfToFloat = interop.halfToFloat;
/** @deprecated Moved to `@ediy/backbones/interop`; import `floatToHalf` from there. */
export const floatToHalf = interop.floatToHalf;
/** @deprecated Moved to `@ediy/backbones/interop`; import `bfloat16ToFloat` from there. */
export const bfloat16ToFloat = interop.bfloat16ToFloat;
/** @deprecated Moved to `@ediy/backbones/interop`; import `floatToBfloat16` from there. */
export const floatToBfloat16 = interop.floatToBfloat16;
/** @deprecated Moved to `@ediy/backbones/interop`; import `SafetensorsDtype` from there. */
export type SafetensorsDtype = interop.SafetensorsDtype;
/** @deprecated Moved to `@ediy/backbones/interop`; import `SAFETENSORS_DTYPE_BYTES` from there. */
export const SAFETENSORS_DTYPE_BYTES = interop.SAFETENSORS_DTYPE_BYTES;
/** @deprecated Moved to `@ediy/backbones/interop`; import `SafeTensor` from there. */
export type SafeTensor = interop.SafeTensor;
/** @deprecated Moved to `@ediy/backbones/interop`; import `StateDict` from there. */
export type StateDict = interop.StateDict;
/** @deprecated Moved to `@ediy/backbones/interop`; import `readSafetensors` from there. */
export const readSafetensors = interop.readSafetensors;
/** @deprecated Moved to `@ediy/backbones/interop`; import `readSafetensorsMetadata` from there. */
export const readSafetensorsMetadata = interop.readSafetensorsMetadata;
/** @deprecated Moved to `@ediy/backbones/interop`; import `writeSafetensors` from there. */
export const writeSafetensors = interop.writeSafetensors;
/** @deprecated Moved to `@ediy/backbones/interop`; import `oihwToHwio` from there. */
export const oihwToHwio = interop.oihwToHwio;
/** @deprecated Moved to `@ediy/backbones/interop`; import `hwioToOihw` from there. */
export const hwioToOihw = interop.hwioToOihw;
/** @deprecated Moved to `@ediy/backbones/interop`; import `TfjsWeightName` from there. */
export type TfjsWeightName = interop.TfjsWeightName;
/** @deprecated Moved to `@ediy/backbones/interop`; import `TorchvisionKey` from there. */
export type TorchvisionKey = interop.TorchvisionKey;
/** @deprecated Moved to `@ediy/backbones/interop`; import `torchvisionStateKeys` from there. */
export const torchvisionStateKeys = interop.torchvisionStateKeys;
/** @deprecated Moved to `@ediy/backbones/interop`; import `ImportTorchvisionOptions` from there. */
export type ImportTorchvisionOptions = interop.ImportTorchvisionOptions;
/** @deprecated Moved to `@ediy/backbones/interop`; import `ImportTorchvisionReport` from there. */
export type ImportTorchvisionReport = interop.ImportTorchvisionReport;
/** @deprecated Moved to `@ediy/backbones/interop`; import `importTorchvisionWeights` from there. */
export const importTorchvisionWeights = interop.importTorchvisionWeights;
/** @deprecated Moved to `@ediy/backbones/interop`; import `ExportTorchvisionOptions` from there. */
export type ExportTorchvisionOptions = interop.ExportTorchvisionOptions;
/** @deprecated Moved to `@ediy/backbones/interop`; import `exportTorchvisionWeights` from there. */
export const exportTorchvisionWeights = interop.exportTorchvisionWeights;
/** @deprecated Moved to `@ediy/backbones/interop`; import `inferTorchvisionConfig` from there. */
export const inferTorchvisionConfig = interop.inferTorchvisionConfig;
/** @deprecated Moved to `@ediy/backbones/interop`; import `describeResNetConfig` from there. */
export const describeResNetConfig = interop.describeResNetConfig;
