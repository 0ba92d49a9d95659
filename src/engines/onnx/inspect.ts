/**
 * Reads back just enough of an ONNX file to report on it: the op type of every node of the main graph (our own
 * exports and the graph ORT writes after optimizing, to count nodes) and the metadata our exports record.
 */

import { protoFields } from './model_check.js';

const fields = (b: Uint8Array, start: number, end: number) => protoFields(b, start, end, 'ONNX graph');

const utf8 = new TextDecoder();

/** The string fields of one message (start…end), by field number: e.g. a NodeProto's op_type (4) and domain (7). */
function strings(b: Uint8Array, start: number, end: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const f of fields(b, start, end))
    if (f.start !== undefined) out.set(f.field, utf8.decode(b.subarray(f.start, f.end)));
  return out;
}

/** Op types of the main graph's nodes, in order, prefixed by their domain when it is not the default. */
export function nodeOpTypes(model: Uint8Array): string[] {
  const ops: string[] = [];
  for (const m of fields(model, 0, model.length)) {
    if (m.field !== 7 || m.start === undefined) continue; // ModelProto.graph
    for (const g of fields(model, m.start, m.end!)) {
      if (g.field !== 1 || g.start === undefined) continue; // GraphProto.node
      const node = strings(model, g.start, g.end!);
      const [op, domain] = [node.get(4) ?? '', node.get(7) ?? '']; // NodeProto.op_type, NodeProto.domain
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
    const entry = strings(model, m.start, m.end!);
    out[entry.get(1) ?? ''] = entry.get(2) ?? ''; // StringStringEntryProto.key, .value
  }
  return out;
}
