import { FlattenError } from '../core/errors.js';
import type { TensorData } from '../core/tensor.js';
import type { Ops, Tensor } from './ops.js';

/** What a forward pass runs against: an engine and the tensors bound to parameter paths. */
export interface Ctx {
  ops: Ops;
  /** The tensor bound to a parameter path. */
  p(path: string): Tensor;
  training: boolean;
  /**
   * Stochastic depth on a residual branch x (B, …): zero whole samples with probability `rate` and scale
   * the rest by 1/(1 − rate). Only a training context sets it; models call it through `dropPath()`.
   */
  dropPath?(x: Tensor, rate: number): Tensor;
  /**
   * Analysis hook, the same in every family: each focused attention module reports under its own path
   * (e.g. `layers.0.blocks.1.attn`) its q, k, φ(q), φ(k) with `{ heads }`, and its DWC's window grid as
   * `{ hw: [h, w] }`. Swin blocks add `{ mapSize, shift }` for the attention path, since a window's place in
   * the map is known only to the block. Softmax blocks report nothing. Engines ignore the hook; the
   * analysis tools set it to read what the model really computes.
   */
  capture?(prefix: string, tensors: Record<string, Tensor>, info?: Record<string, unknown>): void;
  /**
   * Called by every model with i = 0, 1, … as stage i begins and with the stage count once the last stage
   * ends (before the head), so that a counting engine can attribute cost to stem, stages and head.
   */
  stage?(index: number): void;
}

/**
 * Engine tensors for a model's weights, each made on its first `get`: a buffer the forward never reads (the
 * `attn_mask` of Swin's focused blocks, 629 MB at 896²) is then neither computed nor uploaded.
 */
export class LazyBound extends Map<string, Tensor> {
  constructor(
    private readonly weights: Map<string, TensorData>,
    private readonly bind: (w: TensorData, path: string) => Tensor,
  ) {
    super();
  }
  override get(path: string): Tensor | undefined {
    let t = super.get(path);
    const w = t ? undefined : this.weights.get(path);
    if (w) super.set(path, (t = this.bind(w, path)));
    return t;
  }
}

/** Binds a map of engine tensors to a Ctx, with a named error for an unbound path. */
export function makeCtx(ops: Ops, params: Map<string, Tensor>, training = false): Ctx {
  return {
    ops,
    training,
    p(path) {
      const t = params.get(path);
      if (!t) throw new FlattenError('BAD_KEYS', `parameter '${path}' has no value bound`);
      return t;
    },
  };
}
