import { describe, expect, it } from 'vitest';
import { buildModel } from '../../src/models/build.js';
import { runCase } from '../../src/api/forward.js';
import { float32 } from '../../src/core/tensor.js';
import { mulberry32 } from '../../src/core/rng.js';
import { modelSpec } from '../util.js';

const keys = (kw: Record<string, unknown>, family: 'swin' | 'pvt_v2' | 'cswin' = 'swin') => [
  ...buildModel(modelSpec(family, kw)).table.specs.keys(),
];
const tinySwin = {
  img_size: 112,
  embed_dim: 8,
  depths: [1, 1],
  num_heads: [1, 2],
  window_size: 7,
  attn_type: 'LS',
  num_classes: 3,
};

describe('official constructor options', () => {
  it('num_classes = 0 is an Identity head: no head keys and the logits are the features', async () => {
    expect(keys({ ...tinySwin, num_classes: 0 }).some((k) => k.startsWith('head.'))).toBe(false);
    const rand = mulberry32(5);
    const x = float32(
      [1, 3, 112, 112],
      Float32Array.from({ length: 3 * 112 * 112 }, () => rand()),
    );
    const r = await runCase(modelSpec('swin', { ...tinySwin, num_classes: 0 }), undefined, x);
    expect(r.output.shape).toEqual([1, 16]);
    expect(Array.from(r.output.data as Float32Array)).toEqual(Array.from(r.features!.data as Float32Array));
  });

  it('Swin ape adds absolute_pos_embed, patch_norm=false drops patch_embed.norm', () => {
    expect(keys({ ...tinySwin, ape: true })).toContain('absolute_pos_embed');
    expect(keys({ ...tinySwin, patch_norm: false }).some((k) => k.startsWith('patch_embed.norm'))).toBe(false);
  });

  it("Swin reads the 'M' count after as many letters as it has stages", () => {
    const k = keys({ ...tinySwin, depths: [1, 3], num_heads: [1, 2], attn_type: 'LM2' });
    expect(k).toContain('layers.1.blocks.1.attn.scale'); // blocks 0-1 focused
    expect(k).toContain('layers.1.blocks.2.attn.relative_position_bias_table'); // block 2 softmax
  });

  it('PVTv2 linear mode pools keys to 7×7 with a 1×1 sr conv; CSwin floors odd head counts', () => {
    const v2 = buildModel(
      modelSpec('pvt_v2', { linear: true, embed_dims: [8, 16, 32, 64], depths: [1, 1, 1, 1], num_heads: [1, 1, 1, 1] }),
    );
    expect(v2.table.specs.get('block1.0.attn.sr.weight')?.shape).toEqual([8, 8, 1, 1]);
    expect(v2.table.specs.get('block1.0.attn.positional_encoding')?.shape).toEqual([1, 49, 8]);
    expect(() =>
      buildModel(
        modelSpec('cswin', {
          embed_dim: 24,
          depth: [1, 1, 1, 1],
          num_heads: [1, 2, 3, 8],
          attn_type: 'SSSS',
          split_size: [1, 2, 7, 7],
        }),
      ),
    ).not.toThrow();
  });

  it('qk_scale takes a number or null and nothing else', () => {
    expect(() => buildModel(modelSpec('swin', { ...tinySwin, qk_scale: 0.1 }))).not.toThrow();
    expect(() => buildModel(modelSpec('swin', { ...tinySwin, qk_scale: 'big' }))).toThrow(
      /'qk_scale' must be a number, got "big"/,
    );
  });
});
