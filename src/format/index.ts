export * from './spec.ts';
export { readModel, tensorData, convOutputLength, convPadBefore, convGeometry, fileCrc, type ConvGeometry, type ParsedModel, type Graph, type GraphNode } from './read.ts';
export { writeModel, type ModelDraft, type GraphDraft, type ChainDraft, type TensorInput } from './write.ts';
export { crc32 } from './crc32.ts';
export { quantizeInt8PerChannel, dequantizeInt8PerChannel, type Int8Quantized } from './int8.ts';
export { encodeF16, decodeF16, toF16Bits, fromF16Bits } from './f16.ts';
