/**
 * A state_dict as torch.save writes it, for the official training code: `torch.load(f, weights_only=True)`
 * returns `{'model': OrderedDict(key → tensor)}`. The zip (zip_write.ts) holds
 *   archive/data.pkl    protocol-2 pickle; each tensor is torch._utils._rebuild_tensor_v2 of a persistent id
 *                       ('storage', torch.<Kind>Storage, '<i>', 'cpu', numel), offset 0, size, row-major stride
 *   archive/data/<i>    the little-endian bytes of storage i
 *   archive/version     the serialization format version, and archive/byteorder (what torch >= 2.1 writes)
 * Only opcodes and globals that torch's weights_only unpickler allows are used.
 */
import { FlattenError } from '../core/errors.js';
import { stridesOf, type DType, type StateDict, type TensorData } from '../core/tensor.js';
import { encodeLittleEndian } from './elements.js';
import { writeFileAtomic } from './files.js';
import { OP } from './pickle.js';
import { writeStoredZip } from './zip_write.js';

/** The storage class torch pickles for each of our dtypes. */
const STORAGES: Record<DType, string> = {
  float32: 'FloatStorage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};
/** torch's PyTorchStreamWriter format version (torch 1.13 writes 3; later readers accept it). */
const FORMAT_VERSION = '3\n';
const ARCHIVE = 'archive';

/** Protocol-2 pickle opcodes, appended to a growing byte list. */
class PickleWriter {
  private bytes: number[] = [OP.PROTO, 2];
  private readonly enc = new TextEncoder();

  op(...ops: number[]): this {
    this.bytes.push(...ops);
    return this;
  }

  global(module: string, name: string): this {
    this.bytes.push(OP.GLOBAL, ...this.enc.encode(`${module}\n${name}\n`));
    return this;
  }

  str(s: string): this {
    const b = this.enc.encode(s);
    this.bytes.push(OP.BINUNICODE, ...u32(b.length));
    for (const x of b) this.bytes.push(x); // no spread: a key can be long
    return this;
  }

  int(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** 31)
      throw new FlattenError(
        'TOO_LARGE',
        `${n}: sizes of 2³¹ or more are not written (a checkpoint stays under 4 GiB)`,
      );
    if (n < 256) this.bytes.push(OP.BININT1, n);
    else if (n < 65536) this.bytes.push(OP.BININT2, n & 0xff, n >> 8);
    else this.bytes.push(OP.BININT, ...u32(n));
    return this;
  }

  tuple(values: number[]): this {
    if (!values.length) return this.op(OP.EMPTY_TUPLE);
    this.op(OP.MARK);
    values.forEach((x) => this.int(x));
    return this.op(OP.TUPLE);
  }

  /** collections.OrderedDict(): what torch pickles a state_dict and a tensor's backward hooks as. */
  orderedDict(): this {
    return this.global('collections', 'OrderedDict').op(OP.EMPTY_TUPLE, OP.REDUCE);
  }

  done(): Uint8Array {
    return Uint8Array.from([...this.bytes, OP.STOP]);
  }
}

const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** `{'model': state_dict}` as torch.save's zip bytes. */
export function writePth(sd: StateDict, name = 'checkpoint.pth'): Uint8Array {
  const p = new PickleWriter();
  const storages: Uint8Array[] = [];
  p.op(OP.EMPTY_DICT, OP.MARK).str('model').orderedDict().op(OP.MARK);
  for (const [key, t] of sd) {
    const storage = STORAGES[(t as TensorData).dtype];
    if (!storage)
      throw new FlattenError(
        'BAD_KEYS',
        `${name}: tensor '${key}' has dtype ${t.dtype}, which has no torch storage here`,
      );
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const id = String(storages.length);
    storages.push(encodeLittleEndian(t, `${name}: tensor '${key}'`));
    p.str(key).global('torch._utils', '_rebuild_tensor_v2').op(OP.MARK);
    p.op(OP.MARK).str('storage').global('torch', storage).str(id).str('cpu').int(numel).op(OP.TUPLE, OP.BINPERSID);
    p.int(0).tuple(t.shape).tuple(stridesOf(t.shape)).op(OP.NEWFALSE).orderedDict();
    p.op(OP.TUPLE, OP.REDUCE);
  }
  p.op(OP.SETITEMS, OP.SETITEMS);
  const enc = new TextEncoder();
  return writeStoredZip(
    [
      { name: `${ARCHIVE}/data.pkl`, data: p.done() },
      ...storages.map((data, i) => ({ name: `${ARCHIVE}/data/${i}`, data })),
      { name: `${ARCHIVE}/version`, data: enc.encode(FORMAT_VERSION) },
      { name: `${ARCHIVE}/byteorder`, data: enc.encode('little') },
    ],
    name,
  );
}

/** writePth to a file, atomically. */
export function writePthFile(path: string, sd: StateDict): void {
  writeFileAtomic(path, writePth(sd, path));
}
