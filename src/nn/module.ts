import type { TensorData } from '../core/tensor.js';

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
  /** Position tables (1, H·W, C): their token grid [H, W], which a checkpoint made at another size is resampled to. */
  grid?: [number, number];
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

  protected param(name: string, shape: number[], init: Init, noDecay = false, grid?: [number, number]): string {
    return this.table.add({ path: this.sub(name), shape, init, noDecay, ...(grid ? { grid } : {}) });
  }

  /**
   * A float32 buffer computed on first read of its data: for state_dict entries the forward never reads (the
   * official Swin block registers `attn_mask` whatever its attention), which a checkpoint still carries.
   */
  protected lazyBuffer(name: string, shape: number[], compute: () => Float32Array): string {
    let data: Float32Array | undefined;
    return this.buffer(name, {
      dtype: 'float32',
      shape,
      get data() {
        return (data ??= compute());
      },
    });
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
