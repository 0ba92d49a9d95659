import { FlattenError } from '../core/errors.js';
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
   * Analysis hook: focused blocks report their q, k, φ(q), φ(k) and DWC geometry under their path prefix.
   * Engines ignore it; the analysis tools set it to read what the model really computes.
   */
  capture?(prefix: string, tensors: Record<string, Tensor>, info?: Record<string, unknown>): void;
  /** Called by models as each stage begins, so that a counting engine can attribute cost per stage. */
  stage?(index: number): void;
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
