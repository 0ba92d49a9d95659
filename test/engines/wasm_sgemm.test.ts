/**
 * Our SGEMM kernel for onnxruntime-web (src/engines/onnx/wasm/sgemm.ts), run alone: the MLAS kernel contract on
 * B packed as MLAS packs it, against a plain JS product, over shapes that reach every path (2 and 1 rows; whole
 * and partial panels; partial halves of 1–7 columns, in either half; K from 1), in zero and add mode; and its place in
 * onnxruntime-web's own build.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionBodies } from '../../src/engines/onnx/wasm/code.js';
import { exportEntry, HEADER, leb, section, vec } from '../../src/engines/onnx/wasm/module.js';
import { replaceSgemmKernels, sgemmKernelBody } from '../../src/engines/onnx/wasm/sgemm.js';
import { buildFmaWasm } from '../../src/engines/onnx/wasm/fma.js';

const KERNEL_TYPE = [0x60, ...vec([...new Array<number[]>(8).fill([0x7f]), [0x7d]]), 1, 0x7f];

/** A module exporting the zero-mode kernel as 'zero' and the add-mode one as 'add', with 64 pages exported as 'mem'. */
function kernelModule(modes = [true, false]): Uint8Array {
  const bodies = modes.map((zero) => {
    const b = sgemmKernelBody(zero);
    return [...leb(b.length), ...b];
  });
  return Uint8Array.from([
    ...HEADER,
    ...section(1, vec([KERNEL_TYPE])),
    ...section(3, vec(modes.map(() => [0]))),
    ...section(5, vec([[0x00, ...leb(64)]])),
    ...section(7, vec([...modes.map((zero, i) => exportEntry(zero ? 'zero' : 'add', 0, i)), exportEntry('mem', 2, 0)])),
    ...section(10, vec(bodies)),
  ]);
}

type Kernel = (
  a: number,
  b: number,
  c: number,
  k: number,
  m: number,
  n: number,
  lda: number,
  ldc: number,
  alpha: number,
) => number;
let kernels: { zero: Kernel; add: Kernel; mem: WebAssembly.Memory };

beforeAll(async () => {
  setFlagsFromString('--experimental-wasm-relaxed-simd'); // the kernel's FMA is relaxed SIMD's
  const { instance } = await WebAssembly.instantiate(kernelModule() as Uint8Array<ArrayBuffer>, {});
  kernels = instance.exports as unknown as typeof kernels;
});

/** Seeded values in [-0.5, 0.5). */
const values = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => ((((i + 1) * 2654435761 + seed * 40503) >>> 0) % 1000) / 1000 - 0.5);

/**
 * C (m × n, row stride ldc) after the kernel loop over every row, as MLAS's driver calls it: each call does the rows
 * it returns; max |C − want| and the rows each call did.
 */
function check(m: number, k: number, n: number, zero: boolean): { err: number; calls: number[] } {
  const [lda, ldc, alpha] = [k + 3, n + 5, 0.7];
  const a = values(m * lda, 1);
  const b = values(k * n, 2);
  const c0 = values(m * ldc, 3);
  // MLAS's packing: panels of 16 columns, each k rows of 16 floats, the last panel zero-padded
  const panels = Math.ceil(n / 16);
  const packed = new Float32Array(panels * k * 16);
  for (let p = 0; p < panels; p++)
    for (let kk = 0; kk < k; kk++)
      for (let j = 0; j < 16 && p * 16 + j < n; j++) packed[(p * k + kk) * 16 + j] = b[kk * n + p * 16 + j];
  const f = new Float32Array(kernels.mem.buffer);
  const [A, B, C] = [64, 64 + a.length * 4 + 64, 64 + a.length * 4 + packed.length * 4 + 128];
  f.set(a, A / 4);
  f.set(packed, B / 4);
  f.set(c0, C / 4);
  const calls: number[] = [];
  for (let done = 0; done < m;) {
    const rows = (zero ? kernels.zero : kernels.add)(
      A + done * lda * 4,
      B,
      C + done * ldc * 4,
      k,
      m - done,
      n,
      lda,
      ldc,
      alpha,
    );
    calls.push(rows);
    done += rows;
  }
  let err = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < ldc; j++) {
      let want = c0[i * ldc + j]; // columns past n stay as they were
      if (j < n) {
        let s = 0;
        for (let kk = 0; kk < k; kk++) s += a[i * lda + kk] * b[kk * n + j];
        want = (zero ? 0 : want) + alpha * s;
      }
      err = Math.max(err, Math.abs(f[C / 4 + i * ldc + j] - want));
    }
  return { err, calls };
}

describe('our SGEMM kernel (MLAS contract)', () => {
  const shapes = [
    [4, 1, 16],
    [5, 7, 3],
    [7, 13, 25],
    [9, 32, 33],
    [3, 5, 8],
    [1, 4, 9],
    [6, 16, 31],
    [8, 96, 130],
    [2, 3, 1],
    [13, 17, 47],
    [4, 2, 12],
    [1, 1, 1],
    // every leftover width of a last panel: 1–7 columns of its first half, 9–15 (1–7 of the second)
    ...Array.from({ length: 16 }, (_, i) => [3, 5, 16 + i + 1]),
  ];
  for (const zero of [true, false])
    it(`${zero ? 'zero' : 'add'} mode: alpha·A·B ${zero ? 'into' : 'added to'} C for every shape`, () => {
      for (const [m, k, n] of shapes) {
        const { err, calls } = check(m, k, n, zero);
        expect(err, `${m}×${k}×${n}`).toBeLessThan(1e-5);
        // 2 rows while 2 remain, then 1
        expect(calls).toEqual([...new Array(m >> 1).fill(2), ...(m & 1 ? [1] : [])]);
      }
    });
});

describe("the kernels in onnxruntime-web's build", () => {
  const ort = new Uint8Array(
    readFileSync(
      join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), 'ort-wasm-simd-threaded.wasm'),
    ),
  );

  it('finds exactly MLAS’s two SGEMM kernels and replaces them; a module without them is left as it was', () => {
    const r = replaceSgemmKernels(ort);
    expect(r.kernels).toBe(2);
    // two bodies changed, both now ours
    const ours = [sgemmKernelBody(true), sgemmKernelBody(false)].map((b) => b.join(','));
    const bodies = functionBodies(r.bytes).bodies.map((f) => [...r.bytes.subarray(f.start, f.end)].join(','));
    expect(bodies.filter((b) => ours.includes(b))).toHaveLength(2);
    // one function of the kernels' type is not the pair: nothing replaced
    const one = kernelModule([true]);
    expect(replaceSgemmKernels(one)).toEqual({ bytes: one, kernels: 0 });
    const full = buildFmaWasm(ort);
    expect(full.kernels).toBe(2);
    expect(full.depthwise).toBe(true);
    expect(full.transpose).toBe(true);
    expect(full.fused).toBeGreaterThan(100);
  });
});
