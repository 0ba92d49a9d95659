import { toFloat32, type TensorData } from '../../core/tensor.js';
import type { Tensor } from '../../ops/ops.js';
import { LazyBound, makeCtx, type Ctx } from '../../ops/ctx.js';
import { Graph, type Value } from './graph.js';
import { OnnxOps, type OnnxOpsOptions } from './ops.js';
import { encodeModel, type ModelProto } from './proto.js';

export interface TraceInput {
  name: string;
  shape: number[];
  /** With `dynamic`, the axis whose size is left to run time. */
  batchAxis?: number;
}

export interface TraceOptions {
  /** Leave the inputs' batch axis symbolic (`batch`) instead of baking in the traced size. */
  dynamic?: boolean;
  name?: string;
  doc?: string;
  metadata?: Record<string, string>;
  /** Rewrites the finished model before it is encoded (the dtype passes of quantize/). */
  transform?: (model: ModelProto) => ModelProto;
  /** The runtime the graph is written for (OnnxOpsOptions.target). */
  target?: OnnxOpsOptions['target'];
}

export interface Traced {
  model: ModelProto;
  bytes: Uint8Array;
  /** Shape of every node output by value name, `batch` on the dynamic axis. */
  shapes: Map<string, (number | string)[]>;
}

/**
 * Record `fn` as an ONNX model: weights become initializers named by their state_dict keys,
 * the inputs become graph inputs and the returned tensors the graph outputs, under their keys.
 */
export function traceOnnx<K extends string>(
  weights: Map<string, TensorData>,
  inputs: TraceInput[],
  fn: (ctx: Ctx, ...xs: Tensor[]) => Record<K, Tensor>,
  opts: TraceOptions = {},
): Traced {
  const g = new Graph(opts.dynamic ?? false);
  const ops = new OnnxOps(g, { target: opts.target });
  const bound = new LazyBound(weights, (w, k) => g.constant(w.shape, toFloat32(w), k, true) as unknown as Tensor);
  const xs = inputs.map((i) => g.input(i.name, i.shape, i.batchAxis) as unknown as Tensor);
  const outs = fn(makeCtx(ops, bound), ...xs);
  const real = Object.fromEntries(Object.entries<Tensor>(outs).map(([k, x]) => [k, ops.real(x)])) as Record<K, Value>;
  const traced = g.toModel(real, { name: opts.name ?? 'flatten', doc: opts.doc, metadata: opts.metadata });
  const proto = opts.transform ? opts.transform(traced.proto) : traced.proto;
  return { model: proto, bytes: encodeModel(proto), shapes: traced.shapes };
}
