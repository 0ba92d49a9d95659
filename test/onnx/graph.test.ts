import { describe, expect, it } from 'vitest';
import { exportOnnx, ortOptimizedOps, type OnnxExport } from '../../src/api/export.js';
import { BATCH_MARK } from '../../src/engines/onnx/graph.js';
import { nodeOpTypes, opHistogram } from '../../src/engines/onnx/inspect.js';
import { readJsonFile } from '../../src/io/json.js';
import type { ModelSpec } from '../../src/models/build.js';
import { GOLDEN_DIR } from '../golden.js';

/** Node of the graph that produces each value. */
const producers = (r: OnnxExport) => new Map(r.proto.nodes.map((n) => [n.outputs[0], n]));
const count = (r: OnnxExport, op: string) => r.proto.nodes.filter((n) => n.op === op).length;
/** Transposes that move data: not the NHWC ↔ NCHW hand-offs around a Conv, which ORT folds into its reorders. */
function movingTransposes(r: OnnxExport): number {
  const prod = producers(r);
  const intoConv = new Set(r.proto.nodes.filter((n) => n.op === 'Conv').map((n) => n.inputs[0]));
  return r.proto.nodes.filter(
    (n) => n.op === 'Transpose' && !intoConv.has(n.outputs[0]) && prod.get(n.inputs[0])?.op !== 'Conv',
  ).length;
}

/** Graph quality of the released models as exported (random weights; the graph does not depend on them). */
describe('exported graphs', () => {
  const models: Record<string, OnnxExport> = {};
  const get = (name: string) => (models[name] ??= exportOnnx({ name }));

  // upper bounds on what the engine emits today: a regression in the view/transposition logic shows up here
  // (nodes include the Slice and Mul on weights that ORT folds at load time, and per focused attention the
  // Reshape that broadcasts φ(q)'s row factor over the heads)
  const bounds: Record<string, { nodes: number; transposes: number; reshapes: number }> = {
    flatten_swin_t: { nodes: 637, transposes: 69, reshapes: 123 },
    flatten_pvt_v2_b0: { nodes: 578, transposes: 32, reshapes: 101 },
    flatten_cswin_t: { nodes: 1944, transposes: 251, reshapes: 452 },
  };
  for (const [name, b] of Object.entries(bounds)) {
    it(`${name}: no redundant layout ops, everything constant folded`, () => {
      const r = get(name);
      const prod = producers(r);
      const consumers = (v: string) => r.proto.nodes.filter((n) => n.inputs.includes(v));
      for (const n of r.proto.nodes) {
        const src = prod.get(n.inputs[0]);
        // a transpose of a transpose, or a reshape of a reshape, is always one op (or none); the one
        // exception is a last-two-axes swap feeding only MatMuls, which ORT folds into FusedMatMul
        const perm = n.attrs?.perm as number[] | undefined;
        const swap = perm?.every((a, i) => a === (i < perm.length - 2 ? i : 2 * perm.length - 3 - i));
        const fused = swap && consumers(n.outputs[0]).every((c) => c.op === 'MatMul');
        if (n.op === 'Transpose' && !fused) expect(src?.op, `${n.name} transposes a Transpose`).not.toBe('Transpose');
        if (n.op === 'Reshape') expect(src?.op, `${n.name} reshapes a Reshape`).not.toBe('Reshape');
        // a Reshape must change the shape
        if (n.op === 'Reshape')
          expect(r.shapes.get(n.outputs[0])).not.toEqual(src ? r.shapes.get(src.outputs[0]) : undefined);
      }
      // bias tables, softplus temperatures, masks and index tables are all initializers by now
      for (const op of ['Softplus', 'Expand', 'Shape', 'ConstantOfShape', 'Constant']) expect(count(r, op), op).toBe(0);
      // the only Gathers left move activations (cyclic shifts); every table lookup was folded
      const inits = new Set(r.proto.initializers.map((i) => i.name));
      for (const n of r.proto.nodes.filter((x) => x.op === 'Gather'))
        expect(inits.has(n.inputs[0]), n.name).toBe(false);
      expect(r.proto.nodes.length).toBeLessThanOrEqual(b.nodes);
      expect(movingTransposes(r)).toBeLessThanOrEqual(b.transposes);
      expect(count(r, 'Reshape')).toBeLessThanOrEqual(b.reshapes);
    });
  }

  it('flatten_swin_t: every Linear is a Gemm on the stored (out, in) weight, GELU is the Erf pattern', () => {
    const r = get('flatten_swin_t');
    const prod = producers(r);
    const gemms = r.proto.nodes.filter((n) => n.op === 'Gemm');
    // 12 blocks × (q, k, v, proj, fc1, fc2) + 3 patch-merging reductions + head
    expect(gemms.length).toBe(12 * 6 + 3 + 1);
    // the weight is the state_dict tensor itself, or (q, k, v) a Slice of it that ORT folds at load time;
    // for q and k the rows are then scaled by 1/σ (φ's temperature), a Mul that ORT folds too
    const weightOf = (name: string): string => {
      const p = prod.get(name);
      if (name.endsWith('.weight')) return name;
      if (p?.op === 'Slice') return p.inputs[0];
      return p?.op === 'Mul' && p.inputs[1].startsWith('scale(') ? weightOf(p.inputs[0]) : '';
    };
    expect(gemms.every((n) => n.attrs?.transB === 1 && weightOf(n.inputs[1]).endsWith('.weight'))).toBe(true);
    expect(count(r, 'Erf')).toBe(12);
    expect(count(r, 'Softmax')).toBe(8); // only the 'S' blocks of stages 3 and 4
    // each cyclic shift (roll over rows, then columns) is one Gather, not Slices and Concats
    expect(count(r, 'Gather')).toBe(3 * 2);
    expect(count(r, 'Concat')).toBe(0);
    expect(count(r, 'Slice')).toBe(12 * 3 * 2); // the q, k, v rows of every qkv weight and bias
  });

  it('flatten_swin_t: linear attention uses the Q(KᵀV) order, never an N×N product', () => {
    const r = get('flatten_swin_t');
    for (const n of r.proto.nodes.filter((x) => x.op === 'MatMul')) {
      const s = r.shapes.get(n.outputs[0])!;
      // the largest attention map is a 7×7 window's 49×49; 3136×3136 or 784×784 would be quadratic attention
      expect((s[s.length - 1] as number) * (s[s.length - 2] as number), `${n.name} ${s}`).toBeLessThanOrEqual(
        3136 * 32,
      );
    }
  });

  it('the batch is symbolic and the trace marker never leaks into the graph', () => {
    const r = get('flatten_swin_t');
    expect(r.proto.inputs[0].shape).toEqual(['batch', 3, 224, 224]);
    expect(r.proto.outputs.map((o) => o.shape)).toEqual([
      ['batch', 1000],
      ['batch', 768],
    ]);
    for (const t of r.proto.initializers.filter((i) => i.dataType === 7)) {
      for (const v of new BigInt64Array(t.raw.buffer, t.raw.byteOffset, t.raw.byteLength / 8))
        expect(Number(v) % BATCH_MARK === 0 && v !== 0n).toBe(false);
    }
  });

  it('the file reads back with the nodes we wrote', () => {
    const r = get('flatten_pvt_v2_b0');
    expect(nodeOpTypes(r.bytes)).toEqual(r.proto.nodes.map((n) => n.op));
  });

  it('spatial reduction resamples V with one MatMul by a constant matrix', () => {
    const config = readJsonFile<ModelSpec>(`${GOLDEN_DIR}pvt_sr8421_llss/config.json`);
    const r = exportOnnx({ name: 'pvt_sr8421_llss', config });
    const interp = r.proto.nodes.filter((n) => n.op === 'MatMul' && n.inputs[0].startsWith('interp('));
    expect(interp.length).toBe(2); // stages 1 and 2 have sr 8 and 4
    expect(count(r, 'Resize') + count(r, 'Gather')).toBe(0);
  });

  it('onnxruntime fuses what we emit (Gelu, FusedMatMul, NCHWc depthwise conv) at level "all"', async () => {
    const config = readJsonFile<ModelSpec>(`${GOLDEN_DIR}swin_llss/config.json`);
    const r = exportOnnx({ name: 'swin_llss', config });
    const ops = opHistogram(await ortOptimizedOps(r.bytes, { threads: 1 }));
    expect(ops.Erf ?? 0).toBe(0);
    expect(ops['com.microsoft.Gelu']).toBe(count(r, 'Erf'));
    expect(ops['com.microsoft.FusedMatMul']).toBeGreaterThan(0);
    expect(ops['com.microsoft.nchwc.Conv']).toBeGreaterThan(0);
    // every Gemm survives, those followed by the φ ReLU as FusedGemm(activation Relu)
    expect(ops.Gemm + (ops['com.microsoft.FusedGemm'] ?? 0)).toBe(count(r, 'Gemm'));
    expect(ops['com.microsoft.FusedGemm']).toBeGreaterThan(0);
    expect(ops.Slice ?? 0).toBe(0); // weight slices folded at load time
    // the Conv hand-offs vanish into NCHWc reorders; otherwise ORT finds nothing to cancel, and at most
    // the transposes feeding MatMul disappear (into FusedMatMul)
    const feedsMatMul = r.proto.nodes.filter(
      (n) => n.op === 'Transpose' && r.proto.nodes.some((c) => c.op === 'MatMul' && c.inputs.includes(n.outputs[0])),
    ).length;
    expect(ops.Transpose).toBeLessThanOrEqual(movingTransposes(r));
    expect(ops.Transpose).toBeGreaterThanOrEqual(movingTransposes(r) - feedsMatMul);
  });
});
