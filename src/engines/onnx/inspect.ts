/**
 * Reads back just enough of an ONNX file to report on it: the op type of every node of the main graph.
 * Used on our own exports and on the graph ORT writes after optimizing, to count nodes.
 */

interface Field {
  field: number;
  /** varint value, or the byte range of a length-delimited field */
  value?: number;
  start?: number;
  end?: number;
}

function* fields(b: Uint8Array, start: number, end: number): Generator<Field> {
  let p = start;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (p >= end) throw new Error('truncated protobuf');
      const byte = b[p++];
      v += (byte & 0x7f) * mul;
      if (byte < 0x80) return v;
      mul *= 128;
    }
  };
  while (p < end) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    switch (tag & 7) {
      case 0:
        yield { field, value: varint() };
        break;
      case 1:
        p += 8;
        break;
      case 2: {
        const len = varint();
        if (p + len > end) throw new Error('truncated protobuf');
        yield { field, start: p, end: p + len };
        p += len;
        break;
      }
      case 5:
        p += 4;
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${tag & 7}`);
    }
  }
}

const utf8 = new TextDecoder();

/** Op types of the main graph's nodes, in order, prefixed by their domain when it is not the default. */
export function nodeOpTypes(model: Uint8Array): string[] {
  const ops: string[] = [];
  for (const m of fields(model, 0, model.length)) {
    if (m.field !== 7 || m.start === undefined) continue; // ModelProto.graph
    for (const g of fields(model, m.start, m.end!)) {
      if (g.field !== 1 || g.start === undefined) continue; // GraphProto.node
      let op = '';
      let domain = '';
      for (const n of fields(model, g.start, g.end!)) {
        if (n.start === undefined) continue;
        if (n.field === 4) op = utf8.decode(model.subarray(n.start, n.end)); // NodeProto.op_type
        if (n.field === 7) domain = utf8.decode(model.subarray(n.start, n.end)); // NodeProto.domain
      }
      ops.push(domain && domain !== 'ai.onnx' ? `${domain}.${op}` : op);
    }
  }
  return ops;
}

/** Count per op type, most frequent first. */
export function opHistogram(ops: string[]): Record<string, number> {
  const h = new Map<string, number>();
  for (const o of ops) h.set(o, (h.get(o) ?? 0) + 1);
  return Object.fromEntries([...h].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}
