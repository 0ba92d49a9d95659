import { describe, expect, it } from 'vitest';
import * as ortWeb from 'onnxruntime-web';
import { exportOnnx, ortOptimizedOps } from '../../src/api/export.js';
import { runCase, type CaseConfig } from '../../src/api/forward.js';
import type { TensorData } from '../../src/core/tensor.js';
import { onnxMetadata, opHistogram } from '../../src/engines/onnx/inspect.js';
import { applyDType, MODEL_DTYPES, type ModelDType } from '../../src/engines/onnx/quantize/dtype.js';
import { halfToFloat, toHalfBits } from '../../src/io/elements.js';
import { quantizeBlocks } from '../../src/engines/onnx/quantize/q4.js';
import { OnnxSession } from '../../src/engines/onnx/session.js';
import { traceOnnx } from '../../src/engines/onnx/trace.js';
import { readJsonFile } from '../../src/io/json.js';
import { readNpyFile } from '../../src/io/npy.js';
import { GOLDEN_DIR, goldenCases } from '../golden.js';
import type { ModelSpec } from '../../src/models/build.js';

/** max |y − ref| over max |ref|: the error as a share of the largest logit, defined where single logits are ≈ 0. */
function relativeError(y: TensorData, ref: TensorData): number {
  const [a, b] = [y.data as Float32Array, ref.data as Float32Array];
  expect(a.length).toBe(b.length);
  let [err, max] = [0, 0];
  for (let i = 0; i < a.length; i++) [err, max] = [Math.max(err, Math.abs(a[i] - b[i])), Math.max(max, Math.abs(b[i]))];
  return err / max;
}

/**
 * Bounds on the golden cases (official random-init weights, so every layer's error reaches the logits unfiltered):
 * fp16 rounds each weight by ≤ 2⁻¹¹ relative, measured 0.4–0.8·10⁻³ of the largest logit; q8 quantizes
 * weights to 1/63 of each channel's range and activations to 1/255 of each tensor's, measured 2.1–5.8·10⁻²; q4's
 * 16 levels per block of 32 put ~8% noise on every random-init weight, measured 0.10–0.45. Each bound is ~2× the
 * worst case measured, so a wrong scale, zero point, layout or a dropped bias (errors of order 1) fails.
 */
const BOUND: Record<Exclude<ModelDType, 'fp32'>, number> = { fp16: 2e-3, q8: 0.12, q4: 0.9 };

const float = (shape: number[], f: (i: number) => number): TensorData => ({
  dtype: 'float32',
  shape,
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => f(i)),
});
const wave = (i: number, s = 1) => s * Math.sin(i * 12.9898 + 1.3) * Math.cos(i * 0.37);

/** A golden model case exported in `dtype`. */
const goldenExport = (name: string, dtype: ModelDType) =>
  exportOnnx({
    name,
    config: readJsonFile<ModelSpec>(`${GOLDEN_DIR}${name}/config.json`),
    checkpoint: `${GOLDEN_DIR}${name}/checkpoint.pth`,
    dtype,
  });

/** y = x·Wᵀ + b traced alone, in `dtype`, run on onnxruntime-node. x (5, 70), W (6, 70): K is not a multiple of 32. */
async function linear(dtype: ModelDType) {
  const [x, w, b] = [float([5, 70], (i) => wave(i, 3)), float([6, 70], (i) => wave(i + 999, 0.2)), float([6], wave)];
  const t = traceOnnx(
    new Map([
      ['w', w],
      ['b', b],
    ]),
    [{ name: 'x', shape: x.shape }],
    (ctx, xx) => ({ y: ctx.ops.linear(xx, ctx.p('w'), ctx.p('b')) }),
    { transform: (m) => applyDType(m, dtype) },
  );
  const s = await OnnxSession.create(t.bytes, `linear ${dtype}`, { threads: 1 });
  const y = (await s.run({ x })).y;
  await s.release();
  const [xs, ws, bs] = [x, w, b].map((v) => v.data as Float32Array);
  return { x: xs, w: ws, b: bs, y, ops: t.model.nodes, bytes: t.bytes, input: x };
}

/** x·Wᵀ + b in float64 for (5, 70)·(6, 70)ᵀ. */
function reference(x: Float32Array, w: ArrayLike<number>, b: Float32Array): Float32Array {
  return Float32Array.from({ length: 30 }, (_, i) => {
    const [r, j] = [Math.floor(i / 6), i % 6];
    let s = b[j];
    for (let k = 0; k < 70; k++) s += x[r * 70 + k] * w[j * 70 + k];
    return s;
  });
}

describe('dtypes of the ONNX export', () => {
  for (const name of goldenCases()) {
    it(`${name}: runs in every dtype within the dtype's bound of the golden output`, async () => {
      const dir = `${GOLDEN_DIR}${name}/`;
      const config = readJsonFile<CaseConfig>(`${dir}config.json`);
      const [input, golden] = [readNpyFile(`${dir}input.npy`), readNpyFile(`${dir}output.npy`)];
      for (const dtype of ['fp16', 'q8', 'q4'] as const) {
        const r = await runCase(config, `${dir}checkpoint.pth`, input, { engine: 'onnx', dtype });
        expect(relativeError(r.output, golden), dtype).toBeLessThanOrEqual(BOUND[dtype]);
      }
    });
  }

  it('q8: one Linear equals int8 arithmetic on the quantized weight and activation (ONNX semantics)', async () => {
    const { x, w, b, y, ops } = await linear('q8');
    expect(ops.map((n) => n.op)).toEqual(['DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul', 'Add']);
    // DynamicQuantizeLinear: uint8 over [min(0, x), max(0, x)], zero point rounded, values rounded half to even
    const [lo, hi] = [Math.min(0, ...x), Math.max(0, ...x)];
    const xs = Math.fround((hi - lo) / 255);
    const even = (v: number) => (Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v));
    const xz = Math.min(255, Math.max(0, even(-lo / xs)));
    const xq = Float32Array.from(x, (v) => (Math.min(255, Math.max(0, even(v / xs) + xz)) - xz) * xs);
    // weights: symmetric per output channel, max |w| ↦ 63 (int7: the pair sums of AVX2 kernels without VNNI fit
    // in int16, so this holds on every x64 CPU; 127 saturates there and fails this test)
    const wq = Float32Array.from(w, (v, i) => {
      const row = w.subarray(Math.floor(i / 70) * 70, Math.floor(i / 70) * 70 + 70);
      const s = Math.fround(Math.max(...row.map(Math.abs)) / 63);
      return Math.round(v / s) * s;
    });
    const want = reference(xq, wq, b);
    const exact = reference(x, w, b);
    const range = Math.max(...want.map(Math.abs));
    (y.data as Float32Array).forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-5 * range));
    // and the quantization did something: the result is not the fp32 one
    expect(relativeError(y, { dtype: 'float32', shape: [5, 6], data: exact })).toBeGreaterThan(1e-4);
  });

  it('q4: MatMulNBits reads our packing as the weight it was made from (blocks, nibbles, zero points, padding)', async () => {
    const { x, w, b, y, ops } = await linear('q4');
    expect(ops.map((n) => n.op)).toEqual(['MatMulNBits', 'Add']);
    const q = quantizeBlocks(w, 6, 70);
    // dequantized independently of the packing: round(w/s) + z clamped to [0, 15], minus z, times s
    const deq = Float32Array.from(w, (v, i) => {
      const [j, k] = [Math.floor(i / 70), i % 70];
      const blk = j * q.blocks + Math.floor(k / 32);
      const s = q.scales[blk];
      const z =
        (q.zeros[j * Math.ceil(q.blocks / 2) + (Math.floor(k / 32) >> 1)] >> ((Math.floor(k / 32) & 1) * 4)) & 15;
      return (Math.min(15, Math.max(0, Math.round(v / s) + z)) - z) * s;
    });
    const want = reference(x, deq, b);
    const range = Math.max(...want.map(Math.abs));
    (y.data as Float32Array).forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-5 * range));
  });

  it('fp16: half-float bits round to nearest even, subnormals and overflow included', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [65520, 0x7c00], // halfway to the next, even is Inf
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // a tie rounds to even (0)
      [1 + 2 ** -11, 0x3c00], // a tie rounds to even
      [1 + 3 * 2 ** -11, 0x3c02],
      [0, 0],
    ];
    for (const [v, bits] of cases) expect(toHalfBits(v), String(v)).toBe(bits);
    // every finite half comes back as itself through the reader's halfToFloat
    for (let h = 0; h < 0x10000; h++)
      if ((h & 0x7c00) !== 0x7c00 && toHalfBits(halfToFloat(h)) !== h)
        expect(toHalfBits(halfToFloat(h)), `0x${h.toString(16)}`).toBe(h);
  });

  it('q8 and q4 replace every Linear; ORT fuses q8 into DynamicQuantizeMatMul / MatMulIntegerToFloat; the dtype is in the metadata', async () => {
    const fp32 = exportOnnx({ name: 'flatten_deit_fmnist' });
    const gemms = fp32.proto.nodes.filter((n) => n.op === 'Gemm').length;
    for (const dtype of ['q8', 'q4'] as const) {
      const e = exportOnnx({ name: 'flatten_deit_fmnist', dtype });
      const ops = opHistogram(e.proto.nodes.map((n) => n.op));
      expect(ops.Gemm, dtype).toBeUndefined();
      expect(dtype === 'q8' ? ops.MatMulInteger : ops.MatMulNBits).toBe(gemms);
      expect(onnxMetadata(e.bytes)['flatten.dtype']).toBe(dtype);
      if (dtype === 'q8') {
        const opt = opHistogram(await ortOptimizedOps(e.bytes, { threads: 1 }));
        expect(
          (opt['com.microsoft.DynamicQuantizeMatMul'] ?? 0) + (opt['com.microsoft.MatMulIntegerToFloat'] ?? 0),
        ).toBe(gemms);
        expect(opt.MatMulInteger).toBeUndefined();
      }
    }
    expect(onnxMetadata(fp32.bytes)['flatten.dtype']).toBe('fp32');
  });

  it('fp16 halves the file; q8 and q4 take it below 55%, q4 the furthest', () => {
    const size = (dtype: ModelDType) => goldenExport('swin_llss', dtype).bytes.length;
    const fp32 = size('fp32');
    expect(size('fp16') / fp32).toBeLessThan(0.55);
    expect(size('q8') / fp32).toBeLessThan(0.55);
    expect(size('q4') / fp32).toBeLessThan(size('q8') / fp32);
  });

  it('the same q8 files run in onnxruntime-web (wasm): a Linear gives onnxruntime-node’s result, a model its accuracy', async () => {
    ortWeb.env.wasm.numThreads = 1;
    const web = async (bytes: Uint8Array, feeds: Record<string, TensorData>) => {
      const s = await ortWeb.InferenceSession.create(bytes);
      const [k, x] = Object.entries(feeds)[0];
      const r = await s.run({ [k]: new ortWeb.Tensor('float32', x.data as Float32Array, x.shape) });
      const y = r[s.outputNames[0]];
      await s.release();
      return { dtype: 'float32' as const, shape: [...y.dims], data: y.data as Float32Array };
    };
    // one Linear: the same integer products, so the same result up to float rounding
    const l = await linear('q8');
    expect(relativeError(await web(l.bytes, { x: l.input }), l.y)).toBeLessThan(1e-5);
    // a model: each activation's grid follows its tensor's range, so the fp32 ops' rounding differences between
    // the wasm and AVX kernels move whole grids, and the two runs differ by about the q8 error itself (measured
    // 0.7–1.7·10⁻²); each stays within the q8 bound of the golden output
    const q8 = goldenExport('swin_llss', 'q8');
    const [input, golden] = ['input', 'output'].map((f) => readNpyFile(`${GOLDEN_DIR}swin_llss/${f}.npy`));
    const node = await OnnxSession.create(q8.bytes, 'q8', { threads: 1 });
    const yNode = (await node.run({ pixel_values: input })).logits;
    await node.release();
    const yWeb = await web(q8.bytes, { pixel_values: input });
    expect(relativeError(yWeb, golden)).toBeLessThanOrEqual(BOUND.q8);
    expect(relativeError(yWeb, yNode)).toBeLessThanOrEqual(BOUND.q8);
  });

  it('bad input: an unknown dtype names itself and the valid ones; a dtype on the tfjs engine is refused', async () => {
    expect(() => exportOnnx({ name: 'flatten_deit_fmnist', dtype: 'int4' as ModelDType })).toThrow(
      `unknown dtype 'int4'; valid: ${MODEL_DTYPES.join(', ')}`,
    );
    const dir = `${GOLDEN_DIR}attn_swin_window/`;
    const config = readJsonFile<CaseConfig>(`${dir}config.json`);
    await expect(
      runCase(config, `${dir}checkpoint.pth`, readNpyFile(`${dir}input.npy`), { engine: 'tfjs', dtype: 'q8' }),
    ).rejects.toThrow("dtype 'q8' needs the onnx engine");
  });
});
