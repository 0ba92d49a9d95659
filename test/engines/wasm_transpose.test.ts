/**
 * Our 4-byte transpose worker for onnxruntime-web (src/engines/onnx/wasm/transpose.ts): alone, against a plain JS
 * transpose, for shapes that reach every path (4 × 4 blocks, leftover columns, leftover rows, 1-row and 1-column
 * matrices) split over 1–5 workers as MLAS splits them; its place in onnxruntime-web's build; and onnxruntime-web on
 * that build giving onnxruntime-node's Transposes exactly.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/engines/onnx/graph.js';
import { encodeModel } from '../../src/engines/onnx/proto.js';
import { functionBodies } from '../../src/engines/onnx/wasm/code.js';
import { replaceTranspose, transposeWorkerBody } from '../../src/engines/onnx/wasm/transpose.js';
import { exportEntry, HEADER, leb, section, vec } from '../../src/engines/onnx/wasm/module.js';

const stock = new Uint8Array(
  readFileSync(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), 'ort-wasm-simd-threaded.wasm')),
);

/** A module exporting the worker as 'worker' and 64 pages as 'mem'. */
function workerModule(): Uint8Array {
  const body = transposeWorkerBody();
  return Uint8Array.from([
    ...HEADER,
    ...section(1, vec([[0x60, 2, 0x7f, 0x7f, 0]])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0x00, ...leb(64)]])),
    ...section(7, vec([exportEntry('worker', 0, 0), exportEntry('mem', 2, 0)])),
    ...section(10, vec([[...leb(body.length), ...body]])),
  ]);
}

describe('our transpose worker (MLAS contract)', () => {
  it('transposes its share of the rows, for every shape and split', async () => {
    const { instance } = await WebAssembly.instantiate(workerModule() as Uint8Array<ArrayBuffer>, {});
    const { worker, mem } = instance.exports as unknown as {
      worker: (ctx: number, index: number) => void;
      mem: WebAssembly.Memory;
    };
    const u = new Uint32Array(mem.buffer);
    const shapes = [
      [4, 4],
      [8, 12],
      [5, 7],
      [13, 6],
      [1, 9],
      [9, 1],
      [3, 3],
      [64, 37],
      [2, 2],
    ];
    for (const [m, n] of shapes)
      for (const tasks of [1, 2, 3, 5]) {
        if (tasks > m) continue;
        const [CTX, IN] = [64, 256];
        const OUT = IN + 4 * m * n + 64;
        for (let i = 0; i < m * n; i++) u[IN / 4 + i] = 1000 + i;
        u.fill(0xdeadbeef, OUT / 4, OUT / 4 + m * n + 16);
        u.set([tasks, IN, OUT, m, n], CTX / 4);
        for (let t = 0; t < tasks; t++) worker(CTX, t);
        const got = [...u.subarray(OUT / 4, OUT / 4 + m * n)];
        const want = Array.from({ length: m * n }, (_, k) => 1000 + (k % m) * n + Math.floor(k / m));
        expect(got, `${m}×${n} over ${tasks}`).toEqual(want);
        // nothing written past the output
        expect(u[OUT / 4 + m * n], `${m}×${n} over ${tasks}`).toBe(0xdeadbeef);
      }
  });
});

describe("the transpose in onnxruntime-web's build", () => {
  it('finds MLAS’s worker once and replaces it; a module without it is left as it was', () => {
    const r = replaceTranspose(stock);
    expect(r.replaced).toBe(true);
    const ours = transposeWorkerBody().join(',');
    const bodies = functionBodies(r.bytes).bodies.map((f) => [...r.bytes.subarray(f.start, f.end)].join(','));
    expect(bodies.filter((b) => b === ours)).toHaveLength(1);
    expect(functionBodies(r.bytes).bodies).toHaveLength(functionBodies(stock).bodies.length);
    const m = workerModule();
    expect(replaceTranspose(m)).toEqual({ bytes: m, replaced: false });
  });

  it("gives onnxruntime-node's Transposes exactly in onnxruntime-web", async () => {
    const ort = await import('onnxruntime-web/wasm');
    ort.env.wasm.wasmBinary = replaceTranspose(stock).bytes;
    ort.env.wasm.numThreads = 1;
    const cases: [number[], number[]][] = [
      [
        [1, 56, 56, 64],
        [0, 3, 1, 2],
      ],
      [
        [1, 64, 56, 56],
        [0, 2, 3, 1],
      ],
      [
        [7, 5],
        [1, 0],
      ],
      [
        [3, 9, 13],
        [0, 2, 1],
      ],
      [
        [2, 6, 1, 3],
        [0, 3, 1, 2],
      ],
      [
        [5, 2, 3, 4],
        [3, 0, 1, 2],
      ],
    ];
    for (const [shape, perm] of cases) {
      const g = new Graph(false);
      const y = g.emit(
        'Transpose',
        [g.input('x', shape)],
        perm.map((p) => shape[p]),
        { perm },
      );
      const bytes = encodeModel(g.toModel({ logits: y }, { name: 'transpose' }).proto);
      const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i);
      const web = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
      const node = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
      const a = (await web.run({ x: new ort.Tensor('float32', x, shape) })).logits.data as Float32Array;
      const b = (await node.run({ x: new ortNode.Tensor('float32', x, shape) })).logits.data as Float32Array;
      expect([...a], `${shape} by ${perm}`).toEqual([...b]);
      await web.release();
      await node.release();
    }
  }, 60_000);
});
