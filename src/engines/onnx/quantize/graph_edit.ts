/**
 * What the dtype passes share: reading constants back out of a written ModelProto (initializers, and the
 * Slice / Mul chains of them that the trace leaves for ORT to fold, e.g. q, k, v rows of one qkv weight),
 * building new initializers and nodes under fresh names, and dropping what the rewritten graph no longer reads.
 */
import * as F from '../fold.js';
import { DataType, type DataTypeCode, type ModelProto, type NodeProto, type TensorProto } from '../proto.js';

/** Float values of a FLOAT initializer (a copy when its bytes are not 4-aligned). */
export function floatsOf(t: TensorProto): Float32Array {
  const r = t.raw;
  if (r.byteOffset % 4 === 0) return new Float32Array(r.buffer, r.byteOffset, r.byteLength / 4);
  return new Float32Array(r.slice().buffer);
}

function intsOf(t: TensorProto): number[] {
  return Array.from(new BigInt64Array(t.raw.slice().buffer), Number);
}

export function tensorOf(name: string, dims: number[], dataType: DataTypeCode, data: ArrayBufferView): TensorProto {
  return { name, dims, dataType, raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A model under rewrite: nodes are replaced one by one, new tensors get names no other value has. */
export class GraphEdit {
  private readonly inits = new Map<string, TensorProto>();
  private readonly producers = new Map<string, NodeProto>();
  private readonly taken = new Set<string>();
  readonly added: TensorProto[] = [];
  private count = 0;

  constructor(readonly model: ModelProto) {
    for (const t of model.initializers) this.inits.set(t.name, t);
    for (const n of model.nodes) for (const o of n.outputs) this.producers.set(o, n);
    for (const n of [...model.initializers, ...model.inputs, ...model.outputs]) this.taken.add(n.name);
    for (const n of model.nodes) for (const o of n.outputs) this.taken.add(o);
  }

  /** `base`, or `base_1`, `base_2`, … where taken. */
  name(base: string): string {
    let n = base;
    for (let k = 1; this.taken.has(n); k++) n = `${base}_${k}`;
    this.taken.add(n);
    return n;
  }

  initializer(base: string, dims: number[], dataType: DataTypeCode, data: ArrayBufferView): string {
    const t = tensorOf(this.name(base), dims, dataType, data);
    this.added.push(t);
    return t.name;
  }

  /** A node writing `outputs` (names from `name`, or the replaced node's own output). */
  node(op: string, inputs: string[], outputs: string[], attrs?: NodeProto['attrs'], domain?: string): NodeProto {
    return { op, inputs, outputs, name: `${op}_d${this.count++}`, attrs, ...(domain ? { domain } : {}) };
  }

  /** The float tensor a value holds when it is known without running the model, else undefined. */
  constant(name: string): F.Dense | undefined {
    const t = this.inits.get(name);
    if (t) return t.dataType === DataType.FLOAT ? { shape: [...t.dims], data: floatsOf(t) } : undefined;
    const n = this.producers.get(name);
    if (n?.op === 'Slice') {
      // Slice(data, starts, ends, axes) with unit steps: the form gemmChannels writes
      const [x, starts, ends, axes, steps] = n.inputs;
      const src = this.constant(x);
      const [b, e, a] = [starts, ends, axes].map((i) => this.ints(i));
      if (!src || !b || !e || !a || (steps && this.ints(steps)?.some((s) => s !== 1))) return undefined;
      const begin = src.shape.map(() => 0);
      const size = [...src.shape];
      a.forEach((ax, i) => {
        const axis = ax < 0 ? ax + src.shape.length : ax;
        const d = src.shape[axis];
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
        begin[axis] = clamp(b[i]);
        size[axis] = clamp(e[i]) - begin[axis];
      });
      return F.slice(src, begin, size);
    }
    if (n?.op === 'Mul') {
      const [p, q] = n.inputs.map((i) => this.constant(i));
      return p && q ? F.binary(p, q, (x, y) => x * y) : undefined;
    }
    return undefined;
  }

  private ints(name: string | undefined): number[] | undefined {
    const t = name === undefined ? undefined : this.inits.get(name);
    return t?.dataType === DataType.INT64 ? intsOf(t) : undefined;
  }

  /**
   * The model with `replace`d nodes (each node maps to the nodes written in its place, in order), the new
   * initializers, `domains` added to the opsets, and only the nodes and initializers the outputs still need.
   */
  finish(replace: Map<NodeProto, NodeProto[]>, domains: { domain: string; version: number }[] = []): ModelProto {
    const nodes = this.model.nodes.flatMap((n) => replace.get(n) ?? [n]);
    const made = new Map<string, NodeProto>();
    for (const n of nodes) for (const o of n.outputs) made.set(o, n);
    const live = new Set<NodeProto>();
    const read = new Set<string>();
    const stack = this.model.outputs.map((o) => o.name);
    while (stack.length) {
      const v = stack.pop()!;
      if (read.has(v)) continue;
      read.add(v);
      const p = made.get(v);
      if (p && !live.has(p)) {
        live.add(p);
        stack.push(...p.inputs.filter((i) => i !== ''));
      }
    }
    const opsets = [...this.model.opsets];
    for (const d of domains) if (!opsets.some((o) => o.domain === d.domain)) opsets.push(d);
    return {
      ...this.model,
      nodes: nodes.filter((n) => live.has(n)),
      initializers: [...this.model.initializers, ...this.added].filter((t) => read.has(t.name)),
      opsets,
    };
  }
}
