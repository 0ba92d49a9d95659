/**
 * Our depthwise convolution in front of MLAS's MlasConv (src/engines/onnx/wasm/depthwise.ts), in onnxruntime-web's
 * own build. To see which calls it takes, MLAS's MlasConv (the function ours calls for the rest) is emptied here:
 * the convolutions ours takes must still give onnxruntime-node's values, and the ones it must leave to MLAS must
 * not (their output is never written). The fused build with MLAS's function kept is run whole in
 * test/web/entry_fma.test.ts and test/web/e2e.test.ts.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import * as ortNode from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { Graph } from '../../src/engines/onnx/graph.js';
import { encodeModel } from '../../src/engines/onnx/proto.js';
import { functionBodies, importedFunctions, rewriteBodies } from '../../src/engines/onnx/wasm/code.js';
import { depthwiseConvBody, replaceDepthwiseConv } from '../../src/engines/onnx/wasm/depthwise.js';
import { HEADER, section, vec } from '../../src/engines/onnx/wasm/module.js';

const stock = new Uint8Array(
  readFileSync(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), 'ort-wasm-simd-threaded.wasm')),
);

interface Case {
  name: string;
  shape: [number, number, number, number];
  k: number;
  pad?: number;
  stride?: number;
  group?: 'depthwise' | 'dense';
  bias?: boolean;
  relu?: boolean;
}

/** A one-Conv graph (Relu after it where asked: onnxruntime fuses it into the conv's activation). */
function convGraph(c: Case): { bytes: Uint8Array; out: number[] } {
  const [B, C, H, W] = c.shape;
  const { k, pad = (c.k - 1) / 2, stride = 1 } = c;
  const dense = c.group === 'dense';
  const g = new Graph(false);
  const x = g.input('x', c.shape);
  const w = g.constant(
    [C, dense ? C : 1, k, k],
    Float32Array.from({ length: C * (dense ? C : 1) * k * k }, (_, i) => Math.sin(i * 0.7)),
  );
  const b = g.constant(
    [C],
    Float32Array.from({ length: C }, (_, i) => Math.cos(i)),
  );
  const o = (n: number) => Math.floor((n + 2 * pad - k) / stride) + 1;
  const out = [B, C, o(H), o(W)];
  let y = g.emit('Conv', c.bias === false ? [x, w] : [x, w, b], out, {
    group: dense ? 1 : C,
    pads: [pad, pad, pad, pad],
    kernel_shape: [k, k],
    strides: [stride, stride],
  });
  if (c.relu) y = g.emit('Relu', [y], out);
  return { bytes: encodeModel(g.toModel({ logits: y }, { name: c.name }).proto), out };
}

// ours: every kernel size it has, maps narrower than a vector (all columns at an edge), batches (the group of a
// channel is its index modulo the groups), no bias
const TAKEN: Case[] = [
  { name: '3×3 on 11×13', shape: [1, 6, 11, 13], k: 3 },
  { name: '3×3, batch 2, 7×37', shape: [2, 5, 7, 37], k: 3 },
  { name: '3×3 on 1×1', shape: [1, 4, 1, 1], k: 3 },
  { name: '3×3 on 2×3', shape: [1, 3, 2, 3], k: 3 },
  { name: '5×5 on 17×40', shape: [1, 8, 17, 40], k: 5 },
  { name: '5×5 on 5×4', shape: [1, 3, 5, 4], k: 5 },
  { name: '7×7 on 9×35', shape: [1, 2, 9, 35], k: 7 },
  { name: '7×7 on 7×7', shape: [3, 4, 7, 7], k: 7 },
  { name: '3×3 without bias', shape: [1, 4, 9, 20], k: 3, bias: false },
];
// MLAS's: what ours does not compute
const LEFT: Case[] = [
  { name: 'stride 2', shape: [1, 4, 9, 9], k: 3, stride: 2 },
  { name: 'no padding', shape: [1, 4, 9, 9], k: 3, pad: 0 },
  { name: 'a dense conv', shape: [1, 4, 9, 9], k: 3, group: 'dense' },
  { name: 'Relu fused in', shape: [1, 4, 9, 9], k: 3, relu: true },
  { name: '9×9', shape: [1, 2, 12, 12], k: 9 },
];

describe("our depthwise convolution in onnxruntime-web's build", () => {
  let ort: typeof import('onnxruntime-web/wasm');

  beforeAll(async () => {
    setFlagsFromString('--experimental-wasm-relaxed-simd'); // its FMA is relaxed SIMD's
    const r = replaceDepthwiseConv(stock);
    expect(r.replaced).toBe(true);
    // MLAS's MlasConv, kept as the module's last function, emptied
    const last = functionBodies(r.bytes).bodies.at(-1)!.index;
    const emptied = rewriteBodies(r.bytes, (f) => (f.index === last ? [0, 0x0b] : null));
    ort = await import('onnxruntime-web/wasm');
    ort.env.wasm.wasmBinary = emptied;
    ort.env.wasm.numThreads = 1;
  });

  /** The largest |web − node| of a case's output. */
  async function diff(c: Case): Promise<number> {
    const { bytes } = convGraph(c);
    const n = c.shape.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: n }, (_, i) => 2 * Math.sin(i * 0.31));
    const web = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const node = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const a = (await web.run({ x: new ort.Tensor('float32', x, c.shape) })).logits.data as Float32Array;
    const b = (await node.run({ x: new ortNode.Tensor('float32', x, c.shape) })).logits.data as Float32Array;
    await web.release();
    await node.release();
    let d = 0;
    for (let i = 0; i < b.length; i++) {
      const e = Math.abs(a[i] - b[i]);
      d = Math.max(d, Number.isNaN(e) ? Infinity : e); // an unwritten output may hold NaNs
    }
    return d;
  }

  it("computes what onnxruntime-node computes for every convolution it takes, without MLAS's", async () => {
    for (const c of TAKEN) expect(await diff(c), c.name).toBeLessThan(2e-5);
  }, 60_000);

  it('leaves every other convolution to MLAS', async () => {
    // MLAS's function is empty here: what goes to it is left unwritten, far from the right values
    for (const c of LEFT) expect(await diff(c), c.name).toBeGreaterThan(1e-2);
  }, 60_000);
});

describe('finding MlasConv', () => {
  it('finds it once in the build and keeps it as an added function; a module without it is left as it was', () => {
    const r = replaceDepthwiseConv(stock);
    const before = functionBodies(stock).bodies;
    const after = functionBodies(r.bytes).bodies;
    expect(after).toHaveLength(before.length + 1);
    // the added function is MLAS's body, byte for byte; one body is now ours, calling it
    const kept = after.at(-1)!;
    const conv = before.find(
      (f) => Buffer.compare(stock.subarray(f.start, f.end), r.bytes.subarray(kept.start, kept.end)) === 0,
    )!;
    expect(conv).toBeDefined();
    const ours = depthwiseConvBody(importedFunctions(stock) + before.length);
    expect([...r.bytes.subarray(after[conv.index].start, after[conv.index].end)]).toEqual(ours);
    // a module with one function of MlasConv's type that reads none of its fields
    const type = [0x60, ...vec(new Array<number[]>(7).fill([0x7f])), 0];
    const m = Uint8Array.from([
      ...HEADER,
      ...section(1, vec([type])),
      ...section(3, vec([[0]])),
      ...section(10, vec([[2, 0, 0x0b]])),
    ]);
    expect(replaceDepthwiseConv(m)).toEqual({ bytes: m, replaced: false });
  });
});
