/**
 * Reads back just enough of an ONNX file to report on it: the op type of every node of the main graph.
 * Used on our own exports and on the graph ORT writes after optimizing, to count nodes.
 */

import { protoFields } from './model_check.js';

const fields = (b: Uint8Array, start: number, end: number) => protoFields(b, start, end, 'ONNX graph');

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

/** The model's `metadata_props` (key → value), where our exports record name, preprocessing and class count. */
export function onnxMetadata(model: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of fields(model, 0, model.length)) {
    if (m.field !== 14 || m.start === undefined) continue; // ModelProto.metadata_props
    let key = '';
    let value = '';
    for (const e of fields(model, m.start, m.end!)) {
      if (e.start === undefined) continue;
      if (e.field === 1) key = utf8.decode(model.subarray(e.start, e.end)); // StringStringEntryProto.key
      if (e.field === 2) value = utf8.decode(model.subarray(e.start, e.end));
    }
    out[key] = value;
  }
  return out;
}
