import { importWith, TFJS_PACKAGES } from '../core/optional.js';
import type { TensorData } from '../core/tensor.js';
import type { Tensor } from '../ops/ops.js';
import type { VisionModel } from '../models/model.js';

/** What one focused block computed for the first image (first window, in windowed Swin stages). */
export interface FocusedCapture {
  /** Parameter prefix of the block's attention, e.g. `layers.0.blocks.1.attn`. */
  block: string;
  heads: number;
  /** Query tokens N, key tokens n (n < N with spatial reduction), channels C. */
  tokens: number;
  keys: number;
  channels: number;
  /** The map the DWC runs on (H, W), when the block has one. */
  hw?: [number, number];
  /** Pre-kernel projections (k includes the position encoding) and the focused features φ(q), φ(k). */
  q: Float32Array;
  k: Float32Array;
  qf: Float32Array;
  kf: Float32Array;
  /** Windowed Swin blocks: the side of the whole feature map and the block's cyclic shift. */
  mapSize?: number;
  shift?: number;
  /** Head-shared DWC kernel (d, 1, k, k), when the block has one. */
  dwc?: TensorData;
}

/**
 * Run the model once on one image with the capture hook set, and collect every focused block's
 * q, k, φ(q), φ(k) for batch element 0, plus the logits.
 */
export async function captureFocused(
  model: VisionModel,
  weights: Map<string, TensorData>,
  image: TensorData,
): Promise<{ logits: TensorData; blocks: FocusedCapture[] }> {
  const info = new Map<string, Record<string, unknown>>();
  // eager tfjs: captured intermediates come back as extra outputs of the same run
  // the tfjs engine loads on first use: importing the analysis tools costs nothing
  const { runTfjs } = await importWith(() => import('../engines/tfjs/run.js'), 'the analysis tools', TFJS_PACKAGES);
  const out = await runTfjs(weights, [image], (ctx, x) => {
    const captured: Record<string, Tensor> = {};
    const { ops } = ctx;
    const first = (t: Tensor) => {
      const s = ops.shape(t);
      return ops.slice(
        t,
        s.map(() => 0),
        [1, ...s.slice(1)],
      );
    };
    const probe = {
      ...ctx,
      capture(prefix: string, tensors: Record<string, Tensor>, extra?: Record<string, unknown>) {
        for (const [name, t] of Object.entries(tensors)) captured[`${prefix}|${name}`] = first(t);
        info.set(prefix, { ...(info.get(prefix) ?? {}), ...(extra ?? {}) });
      },
    };
    return { logits: model.forward(probe, x).logits, ...captured } as Record<string, Tensor>;
  });
  const blocks: FocusedCapture[] = [];
  for (const [prefix, meta] of info) {
    const get = (n: string) => out[`${prefix}|${n}`];
    if (!get('qf')) continue;
    const [, tokens, channels] = get('q').shape;
    const dwc = weights.get(prefix ? `${prefix}.dwc.weight` : 'dwc.weight');
    blocks.push({
      block: prefix,
      heads: meta.heads as number,
      tokens,
      keys: get('k').shape[1],
      channels,
      hw: meta.hw as [number, number] | undefined,
      mapSize: meta.mapSize as number | undefined,
      shift: meta.shift as number | undefined,
      q: get('q').data as Float32Array,
      k: get('k').data as Float32Array,
      qf: get('qf').data as Float32Array,
      kf: get('kf').data as Float32Array,
      dwc,
    });
  }
  return { logits: out.logits!, blocks };
}
