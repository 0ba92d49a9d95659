/**
 * Small graphs for bench/web_latency.ts's `ops` part: the kernels that the per-op profile shows wasm running
 * slowly, at the sizes of flatten_pvt_v2_b0's first stage (56×56 tokens, MLP 32 → 256 → 32), and alternative
 * lowerings of the same computation. Each graph has one input and its result as `logits`, so that the pairing of
 * the model rows measures it unchanged.
 */
import { Graph, type Value } from '../src/engines/onnx/graph.js';
import { encodeModel } from '../src/engines/onnx/proto.js';

export interface MicroGraph {
  name: string;
  bytes: Uint8Array;
  shape: number[];
  /** Another graph of this list that computes the same values (its output is compared with this one's). */
  sameAs?: string;
}

const HW = 56;
const N = HW * HW;
const C = 32;
const HIDDEN = 256;

/** Fixed weights, the same in every graph that needs them. */
const fill = (n: number, scale: number) => Float32Array.from({ length: n }, (_, i) => scale * Math.sin(i * 0.37 + 1));

function graph(name: string, shape: number[], body: (g: Graph, x: Value) => Value, sameAs?: string): MicroGraph {
  const g = new Graph(false);
  const y = body(g, g.input('x', shape));
  return { name, bytes: encodeModel(g.toModel({ logits: y }, { name }).proto), shape, sameAs };
}

/** gelu(x) = x/2 · (1 + erf(x/√2)): what our export emits (ORT fuses it into one Gelu kernel). */
function geluErf(g: Graph, x: Value): Value {
  const e = g.emit('Erf', [g.emit('Div', [x, g.scalar(Math.SQRT2)], x.shape)], x.shape);
  return g.emit('Mul', [g.emit('Mul', [x, g.emit('Add', [e, g.scalar(1)], x.shape)], x.shape), g.scalar(0.5)], x.shape);
}

/**
 * The same gelu as x · (0.5 + 0.5 · erf(x/√2)): a form ORT's Gelu fusion does not match, so the page runs the Erf
 * op (MLAS's vectorised erf) and three elementwise ops instead of the fused Gelu kernel.
 */
function geluUnfused(g: Graph, x: Value): Value {
  const s = x.shape;
  const e = g.emit('Erf', [g.emit('Mul', [x, g.scalar(Math.SQRT1_2)], s)], s);
  return g.emit('Mul', [x, g.emit('Add', [g.emit('Mul', [e, g.scalar(0.5)], s), g.scalar(0.5)], s)], s);
}

/**
 * The same gelu with erf as Abramowitz and Stegun 7.1.26 (|error| ≤ 1.5e-7): elementwise Mul/Add/Exp, which
 * wasm runs with SIMD, instead of ORT's Erf/Gelu kernel.
 */
function geluPoly(g: Graph, x: Value): Value {
  const s = x.shape;
  const op = (type: string, ...inputs: Value[]) => g.emit(type, inputs, s);
  const z = op('Mul', x, g.scalar(Math.SQRT1_2));
  const a = op('Abs', z);
  const t = op('Reciprocal', op('Add', op('Mul', a, g.scalar(0.3275911)), g.scalar(1)));
  // Horner: p = a1 + a2 t + a3 t² + a4 t³ + a5 t⁴
  let p: Value = g.scalar(1.061405429);
  for (const c of [-1.453152027, 1.421413741, -0.284496736, 0.254829592]) p = op('Add', op('Mul', p, t), g.scalar(c));
  const tail = op('Mul', op('Mul', p, t), op('Exp', op('Neg', op('Mul', a, a))));
  // erf(z) = sign(z) (1 − tail); gelu = x/2 + x/2 · sign(z) · (1 − tail)
  const half = op('Mul', x, g.scalar(0.5));
  return op('Add', half, op('Mul', op('Mul', half, op('Sign', z)), op('Sub', g.scalar(1), tail)));
}

/** fc1 → depthwise 3×3 → gelu → fc2 of PVTv2's MLP with tokens as rows, as our export lowers it. */
function mlpTokens(g: Graph, x: Value, gelu: (g: Graph, x: Value) => Value): Value {
  const w1 = g.constant([C, HIDDEN], fill(C * HIDDEN, 0.2));
  const h = g.emit('Gemm', [x, w1, g.constant([HIDDEN], fill(HIDDEN, 0.1))], [N, HIDDEN]); // (N, 256)
  const nhwc = g.emit('Reshape', [h, g.ints([1, HW, HW, HIDDEN])], [1, HW, HW, HIDDEN]);
  const nchw = g.emit('Transpose', [nhwc], [1, HIDDEN, HW, HW], { perm: [0, 3, 1, 2] });
  const conv = dwConv(g, nchw); // (1, 256, 56, 56)
  const back = g.emit('Transpose', [conv], [1, HW, HW, HIDDEN], { perm: [0, 2, 3, 1] });
  const rows = g.emit('Reshape', [back, g.ints([N, HIDDEN])], [N, HIDDEN]);
  const w2 = g.constant([HIDDEN, C], fill(HIDDEN * C, 0.1));
  return g.emit('Gemm', [gelu(g, rows), w2, g.constant([C], fill(C, 0.1))], [N, C]);
}

/**
 * The same MLP with channels as rows: fc1 as W1ᵀ·xᵀ (Gemm transA/transB) writes (256, N), which is NCHW already,
 * and fc2 reads it back with transA: no Transpose at all.
 */
function mlpChannels(g: Graph, x: Value): Value {
  const w1 = g.constant([C, HIDDEN], fill(C * HIDDEN, 0.2));
  const b1 = g.constant([HIDDEN, 1], fill(HIDDEN, 0.1));
  const h = g.emit('Gemm', [w1, x, b1], [HIDDEN, N], { transA: 1, transB: 1 }); // (256, N)
  const conv = dwConv(g, g.emit('Reshape', [h, g.ints([1, HIDDEN, HW, HW])], [1, HIDDEN, HW, HW]));
  const rows = g.emit('Reshape', [conv, g.ints([HIDDEN, N])], [HIDDEN, N]);
  const w2 = g.constant([HIDDEN, C], fill(HIDDEN * C, 0.1));
  return g.emit('Gemm', [geluErf(g, rows), w2, g.constant([C], fill(C, 0.1))], [N, C], { transA: 1 });
}

function dwConv(g: Graph, x: Value): Value {
  const w = g.constant([HIDDEN, 1, 3, 3], fill(HIDDEN * 9, 0.3));
  return g.emit('Conv', [x, w, g.constant([HIDDEN], fill(HIDDEN, 0.1))], x.shape, {
    group: HIDDEN,
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
  });
}

export function microGraphs(): MicroGraph[] {
  return [
    graph('Gelu (Erf), (3136, 256)', [N, HIDDEN], geluErf),
    graph('gelu, erf as a polynomial', [N, HIDDEN], geluPoly, 'Gelu (Erf), (3136, 256)'),
    graph('gelu unfused: x·(½ + ½·erf(x/√2))', [N, HIDDEN], geluUnfused, 'Gelu (Erf), (3136, 256)'),
    graph('Transpose NHWC → NCHW, (1, 56, 56, 256)', [1, HW, HW, HIDDEN], (g, x) =>
      g.emit('Transpose', [x], [1, HIDDEN, HW, HW], { perm: [0, 3, 1, 2] }),
    ),
    graph('depthwise 3×3 Conv, (1, 256, 56, 56)', [1, HIDDEN, HW, HW], dwConv),
    graph('Gemm (3136, 32) · (32, 256)', [N, C], (g, x) =>
      g.emit('Gemm', [x, g.constant([C, HIDDEN], fill(C * HIDDEN, 0.2))], [N, HIDDEN]),
    ),
    graph(`Gemm (3136, 96) · (96, 384)`, [N, 96], (g, x) =>
      g.emit('Gemm', [x, g.constant([96, 384], fill(96 * 384, 0.1))], [N, 384]),
    ),
    graph('MLP as exported (tokens as rows)', [N, C], (g, x) => mlpTokens(g, x, geluErf)),
    graph('MLP, channels as rows (no Transpose)', [N, C], mlpChannels, 'MLP as exported (tokens as rows)'),
    graph(
      'MLP as exported, polynomial erf',
      [N, C],
      (g, x) => mlpTokens(g, x, geluPoly),
      'MLP as exported (tokens as rows)',
    ),
  ];
}
