import type { TensorData } from '../core/tensor.js';
import { FlattenError } from '../core/errors.js';
import type { Ops, Tensor } from '../ops/ops.js';

/** How a parameter is initialised when no checkpoint is given (timm's conventions). */
export type Init =
  { kind: 'zeros' } | { kind: 'ones' } | { kind: 'truncNormal'; std: number } | { kind: 'normal'; std: number };

export interface ParamSpec {
  /** Full dotted path, equal to the official state_dict key. */
  path: string;
  shape: number[];
  init: Init;
  /** Excluded from weight decay (biases, norms, `scale`, position tables). */
  noDecay: boolean;
  /** Buffers (e.g. `relative_position_index`, `attn_mask`) are state_dict entries computed by the model, never trained. */
  buffer?: TensorData;
}

/** Every parameter and buffer of a model, in registration order (= the official state_dict order). */
export class ParamTable {
  readonly specs = new Map<string, ParamSpec>();

  add(spec: ParamSpec): string {
    if (this.specs.has(spec.path)) throw new Error(`parameter ${spec.path} registered twice`);
    this.specs.set(spec.path, spec);
    return spec.path;
  }

  /** Trainable parameters only (buffers excluded), like model.parameters(). */
  parameters(): ParamSpec[] {
    return [...this.specs.values()].filter((s) => !s.buffer);
  }

  parameterCount(): number {
    return this.parameters().reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  }
}

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

/**
 * Base of every module: it owns a path prefix and registers its parameters in the model's table.
 * Forward passes are plain methods taking a Ctx, so the module holds no tensors of its own.
 */
export abstract class Module {
  constructor(
    readonly table: ParamTable,
    readonly prefix: string,
  ) {}

  /** Child path: `prefix.name` (or `name` at the root). */
  protected sub(name: string | number): string {
    return this.prefix ? `${this.prefix}.${name}` : String(name);
  }

  protected param(name: string, shape: number[], init: Init, noDecay = false): string {
    return this.table.add({ path: this.sub(name), shape, init, noDecay });
  }

  protected buffer(name: string, value: TensorData): string {
    return this.table.add({
      path: this.sub(name),
      shape: value.shape,
      init: { kind: 'zeros' },
      noDecay: true,
      buffer: value,
    });
  }
}
