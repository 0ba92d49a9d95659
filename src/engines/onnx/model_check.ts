/**
 * Our own look at an ONNX file before ONNX Runtime parses it. ORT is native code: a malformed protobuf,
 * a tensor whose dims promise more bytes than it carries, or external data naming a path outside the
 * model's folder should be refused here with a message that names the file and the field, not met by ORT.
 * Checked: the wire format of every message we know (model, graph, node, attribute, tensor, value info)
 * with all lengths inside their parent, nesting of subgraphs, required fields, tensor dims against
 * `raw_data`, and external-data locations. Anything ORT accepts that we have not modelled passes through.
 */
import { FlattenError } from '../../core/errors.js';

export interface ProtoField {
  field: number;
  wire: number;
  /** varint value (wire 0), or the byte range of a length-delimited field (wire 2). */
  value?: number;
  start?: number;
  end?: number;
}

/** Fields of one message in `b[start, end)`; `what` names the file and the message in errors. */
export function* protoFields(b: Uint8Array, start: number, end: number, what: string): Generator<ProtoField> {
  let p = start;
  const bad = (why: string) => new FlattenError('BAD_FILE', `${what}: ${why} at byte ${p} (not a valid ONNX protobuf)`);
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (p >= end) throw bad('truncated varint');
      const byte = b[p++];
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
    }
    throw bad('varint longer than 10 bytes');
  };
  while (p < end) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw bad('field number 0');
    if (wire === 0) yield { field, wire, value: varint() };
    else if (wire === 1 || wire === 5) {
      p += wire === 1 ? 8 : 4;
      if (p > end) throw bad('truncated fixed-size field');
    } else if (wire === 2) {
      const len = varint();
      if (p + len > end) throw bad(`field ${field} says ${len} bytes, past the end of its message`);
      yield { field, wire, start: p, end: p + len };
      p += len;
    } else throw bad(`unsupported wire type ${wire}`);
  }
}

/** Bytes per element of the fixed-size TensorProto data types (onnx.proto DataType). */
const ELEMENT_BYTES: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  14: 8,
  15: 16,
  16: 2,
  17: 1,
  18: 1,
  19: 1,
  20: 1,
};
/** Subgraphs (If/Loop bodies) inside subgraphs; ORT's own protobuf limit is about 100 messages deep. */
const MAX_GRAPH_DEPTH = 16;
const utf8 = new TextDecoder();

type Checker = (start: number, end: number, path: string, depth: number) => void;

class ModelChecker {
  constructor(
    private readonly b: Uint8Array,
    private readonly source: string,
  ) {}

  private fail(path: string, why: string): FlattenError {
    return new FlattenError('BAD_FILE', `${this.source}: ${path}: ${why}`);
  }

  /** Walk a message, handing the fields listed in `sub` (field number → checker) to their checkers. */
  private walk(start: number, end: number, path: string, depth: number, sub: Record<number, Checker>): ProtoField[] {
    const out: ProtoField[] = [];
    for (const f of protoFields(this.b, start, end, `${this.source}: ${path}`)) {
      out.push(f);
      const check = sub[f.field];
      if (check && f.start !== undefined) check(f.start, f.end!, `${path}.${f.field}`, depth);
    }
    return out;
  }

  model(): void {
    const fields = this.walk(0, this.b.length, 'model', 0, { 7: this.graph, 8: this.plain, 14: this.plain });
    if (!fields.some((f) => f.field === 1 && f.wire === 0)) throw this.fail('model', 'no ir_version');
    if (!fields.some((f) => f.field === 7 && f.wire === 2)) throw this.fail('model', 'no graph');
    if (!fields.some((f) => f.field === 8 && f.wire === 2)) throw this.fail('model', 'no opset_import');
  }

  private plain: Checker = (start, end, path, depth) => {
    this.walk(start, end, path, depth, {});
  };

  private graph: Checker = (start, end, path, depth) => {
    if (depth > MAX_GRAPH_DEPTH) throw this.fail(path, `subgraphs nest more than ${MAX_GRAPH_DEPTH} deep`);
    this.walk(start, end, path, depth + 1, {
      1: this.node,
      5: this.tensor,
      11: this.plain,
      12: this.plain,
      13: this.plain,
    });
  };

  private node: Checker = (start, end, path, depth) => {
    this.walk(start, end, path, depth, { 5: this.attribute });
  };

  private attribute: Checker = (start, end, path, depth) => {
    this.walk(start, end, path, depth, { 5: this.tensor, 6: this.graph, 10: this.tensor, 11: this.graph });
  };

  private tensor: Checker = (start, end, path, depth) => {
    let raw: number | undefined;
    let dataType = 0;
    let count = 1;
    let external = false;
    for (const f of this.walk(start, end, path, depth, { 13: this.externalEntry })) {
      if (f.field === 1 && f.wire === 0) count *= f.value!;
      if (f.field === 1 && f.wire === 2) count *= this.packedProduct(f, path);
      if (f.field === 2 && f.wire === 0) dataType = f.value!;
      if (f.field === 9 && f.wire === 2) raw = f.end! - f.start!;
      if (f.field === 14 && f.wire === 0) external = f.value === 1;
    }
    const size = ELEMENT_BYTES[dataType];
    if (!external && raw !== undefined && size !== undefined && raw !== count * size) {
      throw this.fail(path, `tensor dims hold ${count} elements of ${size} bytes but raw_data has ${raw} bytes`);
    }
  };

  /** Product of packed repeated int64 dims; a negative dim (a huge varint) is refused. */
  private packedProduct(f: ProtoField, path: string): number {
    let n = 1;
    let p = f.start!;
    while (p < f.end!) {
      let v = 0;
      let shift = 0;
      for (;;) {
        if (p >= f.end! || shift > 63) throw this.fail(path, 'damaged packed dims');
        const byte = this.b[p++];
        v += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if (byte < 0x80) break;
      }
      n *= v;
    }
    return n;
  }

  /** external_data entries: a `location` must stay inside the model's folder. */
  private externalEntry: Checker = (start, end, path, depth) => {
    const fields = this.walk(start, end, path, depth, {});
    const text = (n: number) => {
      const f = fields.find((x) => x.field === n && x.wire === 2);
      return f ? utf8.decode(this.b.subarray(f.start, f.end)) : '';
    };
    if (text(1) !== 'location') return;
    const loc = text(2);
    if (loc.startsWith('/') || /^[A-Za-z]:/.test(loc) || loc.split(/[\\/]/).includes('..'))
      throw this.fail(path, `external data location '${loc.slice(0, 200)}' is outside the model's folder`);
  };
}

/** Throws a BAD_FILE naming `source` and the field unless `bytes` pass the checks in the file comment. */
export function checkOnnxModel(bytes: Uint8Array, source: string): void {
  if (bytes.length === 0) throw new FlattenError('BAD_FILE', `${source}: empty file, not an ONNX model`);
  new ModelChecker(bytes, source).model();
}
