/**
 * Our 4-vector erf for onnxruntime-web (src/engines/onnx/wasm/erf.ts) against MLAS's own erf kernel as the fused
 * build has it: both bodies taken out of onnxruntime-web's build into one small module, run on the same inputs.
 * Ours must give MLAS's values bit for bit (NaN for NaN) for every length (the tail goes to MLAS's loop) and on
 * the inputs where the relaxed min, max and truncation could differ: NaN, ±0, ±∞, the split and clamp points.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { functionBodies } from '../../src/engines/onnx/wasm/code.js';
import { erfKernelBody, replaceErf } from '../../src/engines/onnx/wasm/erf.js';
import { buildFmaWasm, fuseMultiplyAdd } from '../../src/engines/onnx/wasm/fma.js';
import { exportEntry, HEADER, leb, section, vec } from '../../src/engines/onnx/wasm/module.js';

const stock = new Uint8Array(
  readFileSync(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), 'ort-wasm-simd-threaded.wasm')),
);

/** MLAS's erf body as the fused build has it: kept as the last function by replaceErf, then fused. */
function mlasErfBody(): Uint8Array {
  const r = replaceErf(stock);
  expect(r.replaced).toBe(true);
  const fused = fuseMultiplyAdd(r.bytes).bytes;
  const kept = functionBodies(fused).bodies.at(-1)!;
  return fused.subarray(kept.start, kept.end);
}

/** A module: function 0 MLAS's erf, function 1 ours (calling 0), exported as 'mlas' and 'ours', with 'mem'. */
function erfModule(): Uint8Array {
  const mlas = mlasErfBody();
  const ours = erfKernelBody(0);
  return Uint8Array.from([
    ...HEADER,
    ...section(1, vec([[0x60, 3, 0x7f, 0x7f, 0x7f, 0]])),
    ...section(3, vec([[0], [0]])),
    ...section(5, vec([[0x00, ...leb(16)]])),
    ...section(7, vec([exportEntry('mlas', 0, 0), exportEntry('ours', 0, 1), exportEntry('mem', 2, 0)])),
    ...section(
      10,
      vec([
        [...leb(mlas.length), ...mlas],
        [...leb(ours.length), ...ours],
      ]),
    ),
  ]);
}

describe('our erf against MLAS’s', () => {
  it('gives MLAS’s values bit for bit, on every length and on the edge inputs', async () => {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    const { instance } = await WebAssembly.instantiate(erfModule() as Uint8Array<ArrayBuffer>, {});
    type Kernel = (input: number, output: number, n: number) => void;
    const { mlas, ours, mem } = instance.exports as unknown as { mlas: Kernel; ours: Kernel; mem: WebAssembly.Memory };
    const f = new Float32Array(mem.buffer);
    const u = new Uint32Array(mem.buffer);
    const split = 0.921875;
    const edges = [NaN, -NaN, 0, -0, Infinity, -Infinity, split, -split, 3.925, -3.925, 4, 10, 100, 1e-30, -1e-30];
    for (const e of [split, 3.925]) for (const d of [-2, -1, 1, 2]) edges.push(e + d * 2 ** -22 * e);
    const random = Array.from({ length: 4000 }, (_, i) => 6 * Math.sin(i * 12.9898) * Math.abs(Math.cos(i * 0.7)));
    const inputs = [...edges, ...random];
    const [IN, A, B] = [1024, 1024 + 4 * 8192, 1024 + 8 * 8192];
    for (const n of [inputs.length, 0, 1, 3, 15, 16, 17, 31, 33]) {
      f.set(inputs.slice(0, n), IN / 4);
      mlas(IN, A, n);
      ours(IN, B, n);
      const bad: string[] = [];
      // the same bits, or both NaN (a NaN's sign and payload are not part of the contract)
      const same = (i: number) =>
        u[A / 4 + i] === u[B / 4 + i] || (Number.isNaN(f[A / 4 + i]) && Number.isNaN(f[B / 4 + i]));
      for (let i = 0; i < n; i++) if (!same(i)) bad.push(`erf(${inputs[i]}): ${f[B / 4 + i]} vs ${f[A / 4 + i]}`);
      expect(bad, `n = ${n}`).toEqual([]);
    }
    // in place, as Gelu calls it
    f.set(inputs, IN / 4);
    ours(IN, IN, inputs.length);
    for (let i = 0; i < inputs.length; i++)
      if (!Number.isNaN(inputs[i])) expect(u[IN / 4 + i], `in place, erf(${inputs[i]})`).toBe(u[A / 4 + i]);
    // and it is erf: within 2e-7 of a double-precision series on the random inputs
    const erf = (x: number) => {
      let s = 0;
      let t = x;
      for (let k = 0; k < 200; k++) {
        s += t / (2 * k + 1);
        t *= (-x * x) / (k + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * s;
    };
    for (let i = edges.length; i < edges.length + 200; i++)
      if (Math.abs(inputs[i]) < 3)
        expect(Math.abs(f[B / 4 + i] - erf(inputs[i])), `erf(${inputs[i]})`).toBeLessThan(3e-7);
  });

  it('is found once in the build; a module without MLAS’s erf is left as it was', () => {
    // a module with our erf only (it holds no scalar erf constants)
    const ours = erfKernelBody(0);
    const m = Uint8Array.from([
      ...HEADER,
      ...section(1, vec([[0x60, 3, 0x7f, 0x7f, 0x7f, 0]])),
      ...section(3, vec([[0]])),
      ...section(5, vec([[0x00, ...leb(1)]])),
      ...section(10, vec([[...leb(ours.length), ...ours]])),
    ]);
    expect(replaceErf(m)).toEqual({ bytes: m, replaced: false });
    const r = replaceErf(stock);
    expect(functionBodies(r.bytes).bodies).toHaveLength(functionBodies(stock).bodies.length + 1);
    expect(buildFmaWasm(stock).erf).toBe(true);
  });
});
