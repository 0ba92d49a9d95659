/** `flatten-transformer/onnx`: the ONNX engine's own pieces, for inspecting and serving graphs. */
export { OnnxSession, GRAPH_OPTIMIZATION_LEVEL, type SessionOptions, type IoInfo } from './session.js';
export { traceOnnx, type TraceInput, type TraceOptions, type Traced } from './trace.js';
export { OnnxOps } from './ops.js';
export { OPSET } from './graph.js';
export { nodeOpTypes, onnxMetadata, opHistogram } from './inspect.js';
export { traceTrainStep, gradName, type TrainStepOptions, type TrainStepGraph, type MaskInput } from './grad/step.js';
