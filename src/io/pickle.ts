/**
 * A restricted, data-only unpickler.
 *
 * Python's pickle is a small stack machine whose GLOBAL + REDUCE opcodes call arbitrary functions,
 * which is how a `.pth` file can run `os.system`. This interpreter never imports or calls anything:
 * globals become inert `PyGlobal` references and "calls" are resolved as follows (see `reduce`):
 *
 *  1. a callable on the allow-list (built-in `SAFE_REDUCERS` plus the caller's `reducers`, e.g. the
 *     torch tensor rebuilders) is evaluated by our own TypeScript implementation;
 *  2. otherwise, if the global *looks like a class* — its module is not on `DENIED_MODULES` and every
 *     part of its name starts with an uppercase letter (`argparse.Namespace`, `yacs.config.CfgNode`,
 *     `__main__.TrainConfig`) — the call becomes inert data: `PyObject {__class__, args, state}`.
 *     Constructing a class is how configs get pickled, and refusing those would reject ordinary
 *     training checkpoints for the sake of a field we never use;
 *  3. anything else (a function such as `os.system`, `posix.system`, `builtins.eval`,
 *     `builtins.getattr`, `subprocess.Popen`, `some_module.some_function`) is refused with
 *     FlattenError('UNSAFE_PICKLE') naming the global.
 *
 * NEWOBJ (cls.__new__) follows the same rule except that the opcode itself says the target is a
 * class, so only the module deny-list applies. Unknown opcodes are BAD_FILE naming byte and offset.
 *
 * Size is bounded as well as safety (`PICKLE_LIMITS`): a few bytes of DUP + TUPLE2 double an object
 * each time, so every container records its expanded size (items counted as often as they are
 * reachable) and nesting depth when it is built or grown, and the memo, the stack and those two
 * measures have fixed ceilings (TOO_LARGE). Byte strings and container slots are charged to the read
 * budget (budget.ts). Reprs in messages and dict keys are cut to a stated length, so no message can
 * grow with the file.
 *
 * Value mapping: dict/OrderedDict -> Map<string, unknown> (keys stringified Python-style, so int keys
 * such as optimizer state ids become '0', '1', ...), list and tuple -> array, set/frozenset -> Set,
 * int -> number (bigint beyond 2^53), float -> number, str -> string, bytes -> Uint8Array,
 * None -> null, bool -> boolean.
 */
import { FlattenError } from '../core/errors.js';
import { ReadBudget, budgetFor } from './budget.js';

/** A reference to a Python global (`module.name`) that was looked up but never imported. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Inert stand-in for an instance of a class we do not know (config objects and the like). */
export class PyObject {
  /** Keyword arguments, when built by NEWOBJ_EX. */
  declare kwargs?: Map<string, unknown>;
  /** Entries given by SETITEM(S) when the class is a dict subclass (yacs CfgNode). */
  declare items?: Map<string, unknown>;
  /** Entries given by APPEND(S)/ADDITEMS when the class is a list or set subclass. */
  declare list?: unknown[];
  /** What BUILD passed (usually the instance __dict__); undefined when there was no BUILD. */
  state: unknown = undefined;
  constructor(
    readonly __class__: string,
    readonly args: unknown[],
    kwargs?: Map<string, unknown>,
  ) {
    if (kwargs) this.kwargs = kwargs;
  }
}

/** Our implementation of an allow-listed callable: gets the call's positional arguments. */
export type Reducer = (args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** File name used in error messages. */
  name: string;
  /** Resolves BINPERSID/PERSID ids (torch uses them for tensor storages). */
  persistentLoad?: (pid: unknown) => unknown;
  /** Extra allow-listed callables by qualified name, e.g. 'torch._utils._rebuild_tensor_v2'. */
  reducers?: Record<string, Reducer>;
  /** Allocation counter and limit shared with the caller (see budget.ts). */
  budget?: ReadBudget;
}

/**
 * Ceilings no checkpoint comes near (a Swin-B training checkpoint: ~2,000 memo entries, stack < 1,100,
 * depth 6, ~50,000 items) and that keep a hostile pickle's cost small.
 */
export const PICKLE_LIMITS = {
  /** Items on the stack, counting those set aside under MARKs. */
  stack: 2 ** 22,
  memo: 2 ** 22,
  /** Expanded size of one object: an item reachable twice counts twice. */
  items: 2 ** 24,
  /** Containers inside containers. */
  depth: 200,
  /** Bytes of one LONG1/LONG4 integer, and characters of a text INT/LONG/FLOAT. */
  number: 1024,
} as const;

/** Longest repr kept in an error message; a longer one is cut with '…'. */
const REPR_CHARS = 200;
/** Longest non-string dict key (its repr); longer ones are refused rather than cut, so keys never collide. */
const KEY_CHARS = 1000;

/**
 * Modules whose globals are never treated as inert classes: they hold process, file, import,
 * network or code-evaluation machinery, so any call into them is refused outright.
 */
export const DENIED_MODULES: readonly string[] = [
  'os',
  'posix',
  'nt',
  'posixpath',
  'ntpath',
  'subprocess',
  'builtins',
  '__builtin__',
  'sys',
  'shutil',
  'importlib',
  'imp',
  'runpy',
  'pickle',
  '_pickle',
  'cPickle',
  'codecs',
  '_codecs',
  'io',
  '_io',
  'socket',
  'ctypes',
  'multiprocessing',
  'threading',
  '_thread',
  'signal',
  'pty',
  'platform',
  'webbrowser',
  'code',
  'codeop',
  'pdb',
  'bdb',
  'types',
  'operator',
  'functools',
  'marshal',
  'shelve',
  'tempfile',
  'pathlib',
  'glob',
  'urllib',
  'http',
  'ftplib',
  'smtplib',
  'telnetlib',
  'asyncio',
  'timeit',
  'commands',
  'popen2',
  'copyreg',
  'copy_reg',
  'inspect',
  'gc',
  'zipimport',
  'pkgutil',
  'sysconfig',
  'distutils',
  'setuptools',
  'pip',
  'ensurepip',
  'venv',
  'site',
  'trace',
  'profile',
  'cProfile',
  'select',
  'selectors',
  'mmap',
  'fcntl',
  'resource',
  'tkinter',
  'sqlite3',
  'dbm',
  'logging',
  'email',
  'xmlrpc',
  'zipfile',
  'tarfile',
];

export function isDeniedModule(module: string): boolean {
  return DENIED_MODULES.some((m) => module === m || module.startsWith(`${m}.`));
}

/** Rule 2 above: a class-looking global outside the deny-list. */
export function looksLikeClass(g: PyGlobal): boolean {
  return !isDeniedModule(g.module) && g.name.split('.').every((part) => /^[A-Z][A-Za-z0-9_]*$/.test(part));
}

function scalarRepr(v: unknown, room: number): string {
  if (typeof v === 'string') return `'${v.slice(0, room).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (v instanceof PyGlobal) return v.qualified;
  if (v instanceof PyObject) return `<${v.__class__}>`;
  // Containers that cannot be dict keys in Python: their size is enough for a message.
  if (v instanceof Map) return `{<${v.size} items>}`;
  if (v instanceof Set) return `set(<${v.size} items>)`;
  if (v instanceof Uint8Array) return `b<${v.length} bytes>`;
  return `<${typeof v}>`;
}

/**
 * Python-like repr of at most `max` characters (cut with '…'): tuples are walked only until the text
 * is long enough, so shared or cyclic structures cost no more than the text they produce.
 */
export function pyRepr(v: unknown, max = REPR_CHARS): string {
  let out = '';
  const put = (t: string) => {
    out += t.slice(0, max + 1 - out.length);
  };
  const full = () => out.length > max;
  const walk = (x: unknown): void => {
    if (full()) return;
    if (!Array.isArray(x)) return put(scalarRepr(x, max + 1 - out.length));
    put('(');
    for (let i = 0; i < x.length && !full(); i++) {
      if (i) put(', ');
      walk(x[i]);
    }
    put(x.length === 1 ? ',)' : ')');
  };
  walk(v);
  return full() ? `${out.slice(0, max - 1)}…` : out;
}

function toIterable(name: string, v: unknown, what: string): Iterable<unknown> {
  if (v === undefined) return [];
  if (Array.isArray(v) || v instanceof Set) return v;
  if (v instanceof Map) return v.keys();
  throw new FlattenError('BAD_FILE', `${name}: ${what} expects an iterable argument`);
}

/** Dict keys as strings: strings stay as they are, everything else uses its Python repr. */
export function pyKey(k: unknown, name: string): string {
  if (typeof k === 'string') return k;
  const key = pyRepr(k, KEY_CHARS);
  if (key.length >= KEY_CHARS)
    throw new FlattenError('TOO_LARGE', `${name}: a dict key's repr is longer than ${KEY_CHARS} characters`);
  return key;
}

function dictFrom(name: string, args: unknown[], what: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const src = args[0];
  if (src instanceof Map) {
    for (const [k, v] of src) out.set(k as string, v);
    return out;
  }
  for (const pair of toIterable(name, src, what)) {
    if (!Array.isArray(pair) || pair.length !== 2)
      throw new FlattenError('BAD_FILE', `${name}: ${what} expects (key, value) pairs`);
    out.set(pyKey(pair[0], name), pair[1]);
  }
  return out;
}

/** numpy scalar payloads (e.g. a numpy float64 `max_accuracy`): decode the common dtypes. */
function numpyScalar(name: string, args: unknown[]): unknown {
  const [dtype, raw] = args;
  if (!(dtype instanceof PyObject) || !(raw instanceof Uint8Array)) return new PyObject('numpy.generic', args);
  const code = String(dtype.args[0]);
  const state = dtype.state;
  const little = !(Array.isArray(state) && state[1] === '>');
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const need: Record<string, number> = { f8: 8, f4: 4, i8: 8, i4: 4, i2: 2, i1: 1, u8: 8, u4: 4, u2: 2, u1: 1, b1: 1 };
  if (!Object.hasOwn(need, code)) return new PyObject('numpy.generic', args);
  if (raw.length < need[code])
    throw new FlattenError('BAD_FILE', `${name}: numpy scalar of dtype ${code} is truncated`);
  const int = (b: bigint) =>
    b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  switch (code) {
    case 'f8':
      return v.getFloat64(0, little);
    case 'f4':
      return v.getFloat32(0, little);
    case 'i8':
      return int(v.getBigInt64(0, little));
    case 'u8':
      return int(v.getBigUint64(0, little));
    case 'i4':
      return v.getInt32(0, little);
    case 'u4':
      return v.getUint32(0, little);
    case 'i2':
      return v.getInt16(0, little);
    case 'u2':
      return v.getUint16(0, little);
    case 'i1':
      return v.getInt8(0);
    case 'u1':
      return v.getUint8(0);
    default:
      return v.getUint8(0) !== 0; // b1
  }
}

/** Built-in allow-list: pure data constructors that we re-implement (nothing here is ever imported). */
function safeReducers(name: string): Record<string, Reducer> {
  const set: Reducer = (args) => new Set(toIterable(name, args[0], 'set()'));
  const inert =
    (cls: string): Reducer =>
    (args) =>
      new PyObject(cls, args);
  return {
    'collections.OrderedDict': (args) => dictFrom(name, args, 'OrderedDict()'),
    // The default factory is dropped: we only need the stored items.
    'collections.defaultdict': () => new Map<string, unknown>(),
    'builtins.set': set,
    'builtins.frozenset': set,
    '__builtin__.set': set,
    '__builtin__.frozenset': set,
    'builtins.slice': inert('builtins.slice'),
    'builtins.complex': inert('builtins.complex'),
    'builtins.bytearray': (args) =>
      args[0] instanceof Uint8Array
        ? copyBytes(args[0])
        : args.length === 0
          ? new Uint8Array(0)
          : new PyObject('builtins.bytearray', args),
    // Protocol 2 pickles bytes as _codecs.encode(str, 'latin1'): a pure string -> bytes conversion.
    '_codecs.encode': (args) => {
      const [s, enc = 'utf-8'] = args;
      if (typeof s !== 'string') throw new FlattenError('BAD_FILE', `${name}: _codecs.encode expects a str`);
      const e = String(enc).toLowerCase().replace('_', '-');
      if (e === 'latin1' || e === 'latin-1' || e === 'iso-8859-1')
        return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
      if (e === 'utf-8' || e === 'utf8') return new TextEncoder().encode(s);
      throw new FlattenError('BAD_FILE', `${name}: _codecs.encode with unsupported encoding ${String(enc)}`);
    },
    'torch.Size': (args) => [...toIterable(name, args[0], 'torch.Size()')],
    'numpy.dtype': inert('numpy.dtype'),
    'numpy.core.multiarray.scalar': (args) => numpyScalar(name, args),
    'numpy._core.multiarray.scalar': (args) => numpyScalar(name, args),
    'numpy.core.multiarray._reconstruct': inert('numpy.ndarray'),
    'numpy._core.multiarray._reconstruct': inert('numpy.ndarray'),
  };
}

// Opcode bytes (Lib/pickle.py). Protocol 0/1 text forms are accepted too; they cost little.
export const OP = {
  MARK: 0x28,
  STOP: 0x2e,
  POP: 0x30,
  POP_MARK: 0x31,
  DUP: 0x32,
  FLOAT: 0x46,
  INT: 0x49,
  BININT: 0x4a,
  BININT1: 0x4b,
  LONG: 0x4c,
  BININT2: 0x4d,
  NONE: 0x4e,
  PERSID: 0x50,
  BINPERSID: 0x51,
  REDUCE: 0x52,
  STRING: 0x53,
  BINSTRING: 0x54,
  SHORT_BINSTRING: 0x55,
  UNICODE: 0x56,
  BINUNICODE: 0x58,
  APPEND: 0x61,
  BUILD: 0x62,
  GLOBAL: 0x63,
  DICT: 0x64,
  EMPTY_DICT: 0x7d,
  APPENDS: 0x65,
  GET: 0x67,
  BINGET: 0x68,
  INST: 0x69,
  LONG_BINGET: 0x6a,
  LIST: 0x6c,
  EMPTY_LIST: 0x5d,
  OBJ: 0x6f,
  PUT: 0x70,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  SETITEM: 0x73,
  TUPLE: 0x74,
  EMPTY_TUPLE: 0x29,
  SETITEMS: 0x75,
  BINFLOAT: 0x47,
  PROTO: 0x80,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  BINBYTES: 0x42,
  SHORT_BINBYTES: 0x43,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97,
  READONLY_BUFFER: 0x98,
} as const;

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/** A copy that owns its memory, even when the input is a Node Buffer (whose slice() is a view). */
function copyBytes(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

/** Little-endian two's-complement integer of any width (LONG1/LONG4), as number when it fits. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A protocol 0 INT/LONG literal, or undefined when the text is not one. */
function parseIntText(s: string): number | bigint | undefined {
  if (!/^[+-]?\d+L?$/.test(s)) return undefined;
  const b = BigInt(s.replace(/L$/, ''));
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

/** A protocol 0 FLOAT literal as Python's repr writes it (including inf and nan), or undefined. */
function parseFloatText(s: string): number | undefined {
  const t = s.trim().toLowerCase();
  if (/^[+-]?inf(inity)?$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/.test(t)) return NaN;
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t) ? Number(t) : undefined;
}

/** Decode the quoted, backslash-escaped literal of protocol 0 STRING/UNICODE opcodes. */
function unescapePy(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (_m, e: string) => {
    // Beyond U+10FFFF is no character (Python refuses it too); U+FFFD keeps the string readable.
    if (e.length > 1) {
      const cp = parseInt(e.slice(1), 16);
      return String.fromCodePoint(cp > 0x10ffff ? 0xfffd : cp);
    }
    return ({ n: '\n', r: '\r', t: '\t', '0': '\0' } as Record<string, string>)[e] ?? e;
  });
}

/** Expanded size and nesting depth of a container (see the file comment). */
interface Measure {
  items: number;
  depth: number;
}
const LEAF: Measure = { items: 1, depth: 0 };

class Unpickler {
  private pos = 0;
  private stack: unknown[] = [];
  private readonly metastack: unknown[][] = [];
  /** Items and frames set aside by MARK, so the stack limit covers them too. */
  private marked = 0;
  private readonly memo = new Map<number, unknown>();
  private readonly measures = new WeakMap<object, Measure>();
  private readonly view: DataView;
  private readonly reducers: Record<string, Reducer>;
  private readonly budget: ReadBudget;
  private opStart = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly opts: UnpickleOptions,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.reducers = { ...safeReducers(opts.name), ...opts.reducers };
    this.budget = budgetFor(opts, data.length);
  }

  private bad(problem: string): FlattenError {
    return new FlattenError('BAD_FILE', `${this.opts.name}: corrupt pickle: ${problem} (at offset ${this.opStart})`);
  }

  private tooLarge(problem: string): FlattenError {
    return new FlattenError('TOO_LARGE', `${this.opts.name}: pickle ${problem} (at offset ${this.opStart})`);
  }

  private measure(v: unknown): Measure {
    return (typeof v === 'object' && v !== null && this.measures.get(v)) || LEAF;
  }

  /** Record that `container` was built from, or grew by, `items`; refuse it past the size and depth limits. */
  private track<T>(container: T, items: readonly unknown[]): T {
    if (typeof container !== 'object' || container === null) return container;
    const m = this.measures.get(container) ?? { items: 1, depth: 1 };
    for (const it of items) {
      const c = this.measure(it);
      m.items += c.items;
      m.depth = Math.max(m.depth, c.depth + 1);
    }
    if (m.items > PICKLE_LIMITS.items)
      throw this.tooLarge(
        `object expands to more than ${PICKLE_LIMITS.items} items (a structure that repeats itself, e.g. DUP + TUPLE2)`,
      );
    if (m.depth > PICKLE_LIMITS.depth) throw this.tooLarge(`nests containers more than ${PICKLE_LIMITS.depth} deep`);
    this.measures.set(container, m);
    this.budget.charge(8 * items.length, `${this.opts.name}: pickle container`);
    return container;
  }

  /** Bytes of a string or bytes value, charged to the budget (a JS string takes two bytes a character). */
  private chunk(n: number, bytesPerByte: number): Uint8Array {
    const b = this.take(n);
    this.budget.charge(b.length * bytesPerByte, `${this.opts.name}: pickle string`);
    return b;
  }
  private text(n: number): string {
    return utf8.decode(this.chunk(n, 2));
  }
  private bytes(n: number): Uint8Array {
    return copyBytes(this.chunk(n, 1));
  }

  /** A text number (INT, LONG, FLOAT, PUT/GET index) of bounded length, parsed by `parse`. */
  private numberLine<T>(what: string, parse: (s: string) => T | undefined): T {
    const t = this.line();
    const v = t.length <= PICKLE_LIMITS.number ? parse(t) : undefined;
    if (v === undefined)
      throw this.bad(`${what} is not a number literal of at most ${PICKLE_LIMITS.number} characters`);
    return v;
  }
  private memoIndexLine(): number {
    return this.numberLine('memo index', (t) => (/^\d+$/.test(t) ? Number(t) : undefined));
  }
  private long(n: number): number | bigint {
    if (n > PICKLE_LIMITS.number) throw this.tooLarge(`integer of ${n} bytes is longer than ${PICKLE_LIMITS.number}`);
    return decodeLong(this.take(n));
  }
  private putMemo(i: number): void {
    this.memo.set(i, this.top());
    if (this.memo.size > PICKLE_LIMITS.memo) throw this.tooLarge(`memo holds more than ${PICKLE_LIMITS.memo} entries`);
  }

  private take(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.data.length) {
      throw this.bad(`data ends early (needs ${n} more bytes, ${this.data.length - this.pos} left)`);
    }
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private u8(): number {
    return this.take(1)[0];
  }
  private u16(): number {
    const p = this.pos;
    this.take(2);
    return this.view.getUint16(p, true);
  }
  private u32(): number {
    const p = this.pos;
    this.take(4);
    return this.view.getUint32(p, true);
  }
  private i32(): number {
    const p = this.pos;
    this.take(4);
    return this.view.getInt32(p, true);
  }
  private u64(): number {
    const p = this.pos;
    this.take(8);
    const v = this.view.getBigUint64(p, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.bad('length too large');
    return Number(v);
  }
  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) throw this.bad('data ends inside a text line');
    const s = utf8.decode(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  private pop(): unknown {
    if (this.stack.length === 0) throw this.bad('stack underflow');
    return this.stack.pop();
  }
  private top(): unknown {
    if (this.stack.length === 0) throw this.bad('stack underflow');
    return this.stack[this.stack.length - 1];
  }
  private popMark(): unknown[] {
    const items = this.stack;
    const prev = this.metastack.pop();
    if (!prev) throw this.bad('MARK expected');
    this.marked -= prev.length + 1;
    this.stack = prev;
    return items;
  }
  private getMemo(i: number): unknown {
    if (!this.memo.has(i)) throw this.bad(`memo key ${i} not found`);
    return this.memo.get(i);
  }

  private refuse(g: PyGlobal, verb: string): FlattenError {
    return new FlattenError(
      'UNSAFE_PICKLE',
      `${this.opts.name}: unpickler refuses to ${verb} ${g.qualified} (not an allow-listed global; a checkpoint should only hold tensors and plain data)`,
    );
  }

  /** REDUCE: the heart of the safety policy (see the file comment). */
  private reduce(fn: unknown, args: unknown): unknown {
    if (!Array.isArray(args)) throw this.bad('REDUCE arguments are not a tuple');
    if (!(fn instanceof PyGlobal)) {
      throw new FlattenError(
        'UNSAFE_PICKLE',
        `${this.opts.name}: unpickler refuses to call ${pyRepr(fn)}, which is not a global`,
      );
    }
    const safe = this.reducers[fn.qualified];
    if (safe) return safe(args);
    if (looksLikeClass(fn)) return new PyObject(fn.qualified, args);
    throw this.refuse(fn, 'call');
  }

  /** NEWOBJ/INST/OBJ: cls.__new__(cls, *args). */
  private construct(cls: unknown, args: unknown[], kwargs?: Map<string, unknown>): unknown {
    if (!(cls instanceof PyGlobal))
      throw new FlattenError(
        'UNSAFE_PICKLE',
        `${this.opts.name}: unpickler refuses to construct ${pyRepr(cls)}, which is not a global`,
      );
    const safe = this.reducers[cls.qualified];
    if (safe) return safe(args);
    if (isDeniedModule(cls.module)) throw this.refuse(cls, 'construct');
    return new PyObject(cls.qualified, args, kwargs);
  }

  private setItems(target: unknown, kv: unknown[]): void {
    if (kv.length % 2) throw this.bad('odd number of items for SETITEMS');
    let map: Map<string, unknown>;
    if (target instanceof Map) map = target as Map<string, unknown>;
    else if (target instanceof PyObject) map = target.items ??= new Map();
    else throw this.bad('SETITEM(S) on something that is not a dict');
    for (let i = 0; i < kv.length; i += 2) map.set(pyKey(kv[i], this.opts.name), kv[i + 1]);
    this.track(target, kv);
  }

  private appendItems(target: unknown, items: unknown[]): void {
    // Plain loops, not push(...items): spreading a huge batch would overflow the call stack.
    if (Array.isArray(target)) for (const it of items) target.push(it);
    else if (target instanceof Set) for (const it of items) target.add(it);
    else if (target instanceof PyObject) for (const it of items) (target.list ??= []).push(it);
    else throw this.bad('APPEND(S)/ADDITEMS on something that is not a list or set');
    this.track(target, items);
  }

  private persistent(pid: unknown): unknown {
    if (!this.opts.persistentLoad) throw this.bad('persistent id found but this file type does not use them');
    return this.opts.persistentLoad(pid);
  }

  run(): unknown {
    const d = this.data;
    for (;;) {
      this.opStart = this.pos;
      if (this.stack.length + this.marked > PICKLE_LIMITS.stack)
        throw this.tooLarge(`stack holds more than ${PICKLE_LIMITS.stack} items`);
      if (this.pos >= d.length) throw this.bad('pickle ends without STOP (file truncated?)');
      const op = d[this.pos++];
      const s = this.stack;
      switch (op) {
        case OP.PROTO: {
          const proto = this.u8();
          if (proto > 5) throw this.bad(`unsupported pickle protocol ${proto}`);
          break;
        }
        case OP.FRAME:
          this.u64();
          break; // framing is only a read-ahead hint
        case OP.STOP:
          return this.pop();
        case OP.MARK:
          this.metastack.push(this.stack);
          this.marked += this.stack.length + 1;
          this.stack = [];
          break;
        case OP.POP:
          this.pop();
          break;
        case OP.POP_MARK:
          this.popMark();
          break;
        case OP.DUP:
          s.push(this.top());
          break;

        case OP.NONE:
          s.push(null);
          break;
        case OP.NEWTRUE:
          s.push(true);
          break;
        case OP.NEWFALSE:
          s.push(false);
          break;
        case OP.BININT:
          s.push(this.i32());
          break;
        case OP.BININT1:
          s.push(this.u8());
          break;
        case OP.BININT2:
          s.push(this.u16());
          break;
        case OP.LONG1:
          s.push(this.long(this.u8()));
          break;
        case OP.LONG4:
          s.push(this.long(this.i32()));
          break;
        case OP.INT: {
          // protocol 0 writes True and False as INT 01 and 00
          s.push(this.numberLine('INT', (t) => (t === '01' ? true : t === '00' ? false : parseIntText(t))));
          break;
        }
        case OP.LONG:
          s.push(this.numberLine('LONG', parseIntText));
          break;
        case OP.FLOAT:
          s.push(this.numberLine('FLOAT', parseFloatText));
          break;
        case OP.BINFLOAT: {
          const p = this.pos;
          this.take(8);
          s.push(this.view.getFloat64(p, false)); // big-endian, unlike everything else
          break;
        }

        case OP.BINUNICODE:
          s.push(this.text(this.u32()));
          break;
        case OP.SHORT_BINUNICODE:
          s.push(this.text(this.u8()));
          break;
        case OP.BINUNICODE8:
          s.push(this.text(this.u64()));
          break;
        case OP.UNICODE:
          s.push(unescapePy(this.line()));
          break;
        case OP.BINSTRING:
          s.push(latin1.decode(this.chunk(this.i32(), 2)));
          break;
        case OP.SHORT_BINSTRING:
          s.push(latin1.decode(this.chunk(this.u8(), 2)));
          break;
        case OP.STRING:
          s.push(unescapePy(this.line().trim().slice(1, -1)));
          break;
        case OP.BINBYTES:
          s.push(this.bytes(this.u32()));
          break;
        case OP.SHORT_BINBYTES:
          s.push(this.bytes(this.u8()));
          break;
        case OP.BINBYTES8:
          s.push(this.bytes(this.u64()));
          break;
        case OP.BYTEARRAY8:
          s.push(this.bytes(this.u64()));
          break;
        case OP.NEXT_BUFFER:
        case OP.READONLY_BUFFER:
          throw this.bad('out-of-band pickle buffers (protocol 5) are not supported');

        case OP.EMPTY_DICT:
          s.push(new Map<string, unknown>());
          break;
        case OP.EMPTY_LIST:
          s.push([]);
          break;
        case OP.EMPTY_TUPLE:
          s.push([]);
          break;
        case OP.EMPTY_SET:
          s.push(new Set());
          break;
        case OP.TUPLE:
        case OP.LIST: {
          const items = this.popMark();
          this.stack.push(this.track(items, items));
          break;
        }
        case OP.TUPLE1:
        case OP.TUPLE2:
        case OP.TUPLE3: {
          const n = op - OP.TUPLE1 + 1;
          if (s.length < n) throw this.bad('stack underflow');
          const items = s.splice(s.length - n, n);
          s.push(this.track(items, items));
          break;
        }
        case OP.DICT: {
          const items = this.popMark();
          const m = new Map<string, unknown>();
          this.setItems(m, items);
          this.stack.push(m);
          break;
        }
        case OP.FROZENSET: {
          const items = this.popMark();
          this.stack.push(this.track(new Set(items), items));
          break;
        }
        case OP.APPEND: {
          const v = this.pop();
          this.appendItems(this.top(), [v]);
          break;
        }
        case OP.APPENDS:
        case OP.ADDITEMS: {
          const items = this.popMark();
          this.appendItems(this.top(), items);
          break;
        }
        case OP.SETITEM: {
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        }
        case OP.SETITEMS: {
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }

        case OP.BINPUT:
          this.putMemo(this.u8());
          break;
        case OP.LONG_BINPUT:
          this.putMemo(this.u32());
          break;
        case OP.PUT:
          this.putMemo(this.memoIndexLine());
          break;
        case OP.MEMOIZE:
          this.putMemo(this.memo.size);
          break;
        case OP.BINGET:
          s.push(this.getMemo(this.u8()));
          break;
        case OP.LONG_BINGET:
          s.push(this.getMemo(this.u32()));
          break;
        case OP.GET:
          s.push(this.getMemo(this.memoIndexLine()));
          break;

        case OP.GLOBAL: {
          const module = this.line();
          s.push(new PyGlobal(module, this.line()));
          break;
        }
        case OP.STACK_GLOBAL: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') throw this.bad('STACK_GLOBAL needs two strings');
          s.push(new PyGlobal(module, name));
          break;
        }
        case OP.EXT1:
        case OP.EXT2:
        case OP.EXT4:
          throw new FlattenError(
            'UNSAFE_PICKLE',
            `${this.opts.name}: unpickler refuses extension-registry globals (opcode 0x${op.toString(16)} at offset ${this.opStart})`,
          );

        case OP.REDUCE: {
          const args = this.pop();
          const fn = this.pop();
          s.push(this.track(this.reduce(fn, args), [args]));
          break;
        }
        case OP.NEWOBJ: {
          const args = this.pop();
          const cls = this.pop();
          if (!Array.isArray(args)) throw this.bad('NEWOBJ arguments are not a tuple');
          s.push(this.track(this.construct(cls, args), [args]));
          break;
        }
        case OP.NEWOBJ_EX: {
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!Array.isArray(args) || !(kwargs instanceof Map)) throw this.bad('NEWOBJ_EX needs a tuple and a dict');
          s.push(this.track(this.construct(cls, args, kwargs as Map<string, unknown>), [args, kwargs]));
          break;
        }
        case OP.INST: {
          const cls = new PyGlobal(this.line(), this.line());
          const args = this.popMark();
          this.stack.push(this.track(this.construct(cls, args), args));
          break;
        }
        case OP.OBJ: {
          const [cls, ...args] = this.popMark();
          this.stack.push(this.track(this.construct(cls, args), args));
          break;
        }
        case OP.BUILD: {
          const state = this.pop();
          const target = this.top();
          // Only inert objects keep their state. Other targets ignore it: e.g. torch attaches
          // `_metadata` (module versions) to every state_dict, which we do not need.
          if (target instanceof PyObject) {
            target.state = state;
            this.track(target, [state]);
          }
          break;
        }
        case OP.BINPERSID:
          s.push(this.persistent(this.pop()));
          break;
        case OP.PERSID:
          s.push(this.persistent(this.line()));
          break;

        default:
          throw new FlattenError(
            'BAD_FILE',
            `${this.opts.name}: corrupt pickle: unknown opcode 0x${op.toString(16).padStart(2, '0')} at offset ${this.opStart}`,
          );
      }
    }
  }
}

/**
 * Interpret a pickle without executing anything; see the file comment for the safety and size rules.
 * Every failure is a FlattenError of our own; anything else escaping is a bug (the fuzzer looks for them).
 */
export function unpickle(data: Uint8Array, options: UnpickleOptions): unknown {
  return new Unpickler(data, options).run();
}
