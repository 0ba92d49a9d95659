import {
  DataType,
  type AttrValue,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfo,
} from './proto.js';

/**
 * A traced tensor. `shape` is static except for the batch: in a dynamic-batch trace the batch is
 * the prime BATCH_MARK, so any axis whose size is a multiple of it carries the batch (possibly folded
 * with windows or heads, as in Swin's (B·nW, N, C)), and every other axis is a true constant.
 */
export interface Value {
  readonly id: number;
  readonly shape: number[];
  /** Known at trace time: weights, masks, tables and whatever is computed from them alone. */
  readonly data?: Float32Array;
  /** int64 constants (shapes, axes, indices). */
  readonly ints?: number[];
  /** Initializer name for a constant: the state_dict key for weights. */
  readonly hint?: string;
  /** A model parameter: always its own initializer, under its key, even when its values repeat. */
  readonly weight?: boolean;
  readonly producer?: GraphNode;
}

export interface GraphNode {
  op: string;
  domain?: string;
  inputs: (Value | undefined)[];
  output: Value;
  attrs?: Record<string, AttrValue>;
}

/** A prime no model dimension is a multiple of, small enough that traced sizes stay exact doubles. */
export const BATCH_MARK = 1_000_003;

/** Opset 17: LayerNormalization exists, and ReduceMean/ReduceL2 still take `axes` as an attribute. */
export const OPSET = 17;

export interface GraphInput {
  name: string;
  value: Value;
  /** Axis carrying the dynamic batch, if any. */
  batchAxis?: number;
}

export class Graph {
  readonly nodes: GraphNode[] = [];
  readonly inputs: GraphInput[] = [];
  private nextId = 0;
  private readonly scalars = new Map<number, Value>();
  private readonly intConsts = new Map<string, Value>();
  private batchSize?: Value;

  /** `dynamic`: trace with BATCH_MARK for the batch and emit batch-agnostic shapes. */
  constructor(readonly dynamic: boolean) {}

  isBatchDim(d: number): boolean {
    return this.dynamic && d % BATCH_MARK === 0;
  }

  private value(v: Omit<Value, 'id'>): Value {
    return { id: this.nextId++, ...v };
  }

  input(name: string, shape: number[], batchAxis?: number): Value {
    const s = [...shape];
    if (this.dynamic && batchAxis !== undefined) s[batchAxis] = BATCH_MARK;
    const value = this.value({ shape: s });
    this.inputs.push({ name, value, batchAxis: this.dynamic ? batchAxis : undefined });
    return value;
  }

  constant(shape: number[], data: Float32Array, hint?: string, weight = false): Value {
    return this.value({ shape: [...shape], data, hint, weight });
  }

  /**
   * A constant computed at trace time from `inputs` (a folded op), named after the first named input plus
   * the op, so that the file says where it came from.
   */
  folded(inputs: Value[], op: string, r: { shape: number[]; data: Float32Array }): Value {
    const base = inputs.find((i) => i.hint && !i.hint.startsWith('scalar('))?.hint;
    return this.constant(r.shape, r.data, base && `${base}/${op}`);
  }

  /** One shared initializer per distinct scalar. */
  scalar(v: number): Value {
    const f = Math.fround(v);
    let c = this.scalars.get(f);
    if (!c) this.scalars.set(f, (c = this.value({ shape: [], data: Float32Array.of(f), hint: `scalar(${f})` })));
    return c;
  }

  ints(values: number[]): Value {
    const key = values.join(',');
    let c = this.intConsts.get(key);
    const hint = values.length <= 8 ? `ints(${key})` : `indices[${values.length}]`;
    if (!c) this.intConsts.set(key, (c = this.value({ shape: [values.length], ints: [...values], hint })));
    return c;
  }

  emit(
    op: string,
    inputs: (Value | undefined)[],
    shape: number[],
    attrs?: Record<string, AttrValue>,
    domain?: string,
  ): Value {
    const node: GraphNode = { op, inputs, attrs, domain, output: undefined as unknown as Value };
    node.output = this.value({ shape, producer: node });
    this.nodes.push(node);
    return node.output;
  }

  /** How many nodes emitted so far read `v`. */
  consumers(v: Value): number {
    return this.nodes.reduce((n, node) => n + (node.inputs.includes(v) ? 1 : 0), 0);
  }

  /**
   * The batch size at run time times `k`, as a 1-D int64 tensor: Shape of the first batched input,
   * sliced to its batch axis. Only a dynamic trace needs it (Expand to a batched shape).
   */
  batchDim(k: number): Value {
    const inp = this.inputs.find((i) => i.batchAxis !== undefined);
    if (!inp) throw new Error('no input carries the batch');
    const a = inp.batchAxis!;
    this.batchSize ??= this.emit('Shape', [inp.value], [1], { start: a, end: a + 1 });
    return k === 1 ? this.batchSize : this.emit('Mul', [this.batchSize, this.ints([k])], [1]);
  }

  /** Shape as ONNX sees it: a batch-carrying axis becomes `batch` or `batch*k`. */
  exportShape(shape: number[]): (number | string)[] {
    return shape.map((d) => (this.isBatchDim(d) ? (d === BATCH_MARK ? 'batch' : `batch*${d / BATCH_MARK}`) : d));
  }

  /**
   * Serialize the part of the graph the outputs depend on: dead nodes and unused constants are dropped,
   * constants become initializers (weights under their state_dict key), outputs are named by their keys.
   */
  toModel(
    outputs: Record<string, Value>,
    meta: { name: string; doc?: string; metadata?: Record<string, string> },
  ): { proto: ModelProto; shapes: Map<string, (number | string)[]> } {
    const live = new Set<GraphNode>();
    const stack = Object.values(outputs);
    while (stack.length) {
      const v = stack.pop()!;
      const p = v.producer;
      if (p && !live.has(p)) {
        live.add(p);
        for (const i of p.inputs) if (i) stack.push(i);
      }
    }
    const names = new Map<Value, string>();
    const taken = new Set<string>();
    const claim = (base: string) => {
      let n = base;
      for (let k = 1; taken.has(n); k++) n = `${base}_${k}`;
      taken.add(n);
      return n;
    };
    for (const i of this.inputs) names.set(i.value, claim(i.name));
    const nodes: NodeProto[] = [];
    const outputInfos: ValueInfo[] = [];
    // outputs that are not plain node results (inputs, constants, or a value listed twice) go through Identity
    const identities: [Value, string][] = [];
    for (const [k, v] of Object.entries(outputs)) {
      const name = claim(k);
      if (!v.producer || names.has(v)) identities.push([v, name]);
      else names.set(v, name);
      outputInfos.push({ name, dataType: DataType.FLOAT, shape: this.exportShape(v.shape) });
    }
    const initializers: TensorProto[] = [];
    // small constants computed more than once (a softplus temperature used by q and k) are stored once
    const byContent = new Map<string, string>();
    const contentKey = (v: Value) =>
      v.ints
        ? `i${v.shape}:${v.ints}`
        : v.data!.length <= 4096
          ? `f${v.shape}:${new Uint32Array(v.data!.buffer, v.data!.byteOffset, v.data!.length).join(',')}`
          : undefined;
    const nameOf = (v: Value): string => {
      let n = names.get(v);
      if (n !== undefined) return n;
      const key = (v.data || v.ints) && !v.weight ? contentKey(v) : undefined;
      n = key === undefined ? undefined : byContent.get(key);
      if (n !== undefined) {
        names.set(v, n);
        return n;
      }
      if (v.data || v.ints) {
        n = claim(v.hint ?? `const${v.id}`);
        if (key !== undefined) byContent.set(key, n);
        initializers.push(
          v.ints
            ? {
                name: n,
                dims: v.shape,
                dataType: DataType.INT64,
                raw: new Uint8Array(BigInt64Array.from(v.ints.map(BigInt)).buffer),
              }
            : {
                name: n,
                dims: v.shape,
                dataType: DataType.FLOAT,
                raw: new Uint8Array(v.data!.buffer, v.data!.byteOffset, v.data!.byteLength),
              },
        );
      } else {
        n = claim(`${v.producer?.op ?? 'v'}_${v.id}`);
      }
      names.set(v, n);
      return n;
    };
    let count = 0;
    for (const node of this.nodes) {
      if (!live.has(node)) continue;
      nodes.push({
        op: node.op,
        domain: node.domain,
        name: `${node.op}_${count++}`,
        // an omitted optional input is an empty name
        inputs: node.inputs.map((i) => (i ? nameOf(i) : '')),
        outputs: [nameOf(node.output)],
        attrs: node.attrs,
      });
    }
    for (const [v, name] of identities)
      nodes.push({ op: 'Identity', name: `Identity_${count++}`, inputs: [nameOf(v)], outputs: [name] });
    // shapes of every node output, for reports and tests (not written: ORT infers its own)
    const shapes = new Map<string, (number | string)[]>();
    for (const node of this.nodes)
      if (live.has(node)) shapes.set(names.get(node.output)!, this.exportShape(node.output.shape));
    const proto: ModelProto = {
      graphName: meta.name,
      nodes,
      initializers,
      inputs: this.inputs.map((i) => ({
        name: names.get(i.value)!,
        dataType: DataType.FLOAT,
        shape: this.exportShape(i.value.shape),
      })),
      outputs: outputInfos,
      opsets: [{ domain: '', version: OPSET }],
      producer: { name: 'flatten-transformer', version: '0.1.0' },
      doc: meta.doc,
      metadata: meta.metadata,
    };
    return { proto, shapes };
  }
}
