/**
 * PyTorch checkpoints written by `torch.save` (the zip format of torch >= 1.6):
 *   <prefix>/data.pkl   the pickled object graph (state_dict, or a dict around it)
 *   <prefix>/data/<key> raw little-endian bytes of each storage, referenced by persistent ids
 *   <prefix>/version, and from torch 2.1 <prefix>/byteorder
 * The pickle is interpreted by our restricted unpickler; only the tensor rebuilders below are
 * added to its allow-list.
 */
import { FlattenError } from '../core/errors.js';
import type { StateDict, TensorData } from '../core/tensor.js';
import { budgetFor, type ReadOptions } from './budget.js';
import { ELEMENT_SIZE, gatherStrided, type ElementKind } from './elements.js';
import { PyGlobal, PyObject, pyRepr, unpickle, type Reducer } from './pickle.js';
import { looksLikeZip, readZip, type ZipArchive } from './zip.js';

/** Storage classes as named in the pickle (`torch.FloatStorage`, ...) -> element kind. */
const STORAGE_KINDS: Record<string, ElementKind> = {
  FloatStorage: 'f32',
  DoubleStorage: 'f64',
  HalfStorage: 'f16',
  BFloat16Storage: 'bf16',
  LongStorage: 'i64',
  IntStorage: 'i32',
  ShortStorage: 'i16',
  CharStorage: 'i8',
  ByteStorage: 'u8',
  BoolStorage: 'bool',
  // torch 2 may save untyped storages; their elements are bytes.
  UntypedStorage: 'u8',
};

interface Storage {
  kind: ElementKind;
  bytes: Uint8Array;
  key: string;
}

export function isTensorData(v: unknown): v is TensorData {
  return (
    typeof v === 'object' &&
    v !== null &&
    'dtype' in v &&
    'shape' in v &&
    'data' in v &&
    Array.isArray((v as TensorData).shape) &&
    ArrayBuffer.isView((v as TensorData).data)
  );
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function intList(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.every(isInt) ? (v as number[]) : undefined;
}

/** Describe the first bytes of a non-zip file, recognising torch's legacy (pre-1.6) format. */
function describeMagic(bytes: Uint8Array): string {
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  // Legacy torch.save starts with a protocol-2 pickle of the magic number 0x1950a86a20f9469cfc6c.
  const legacy = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
  if (bytes.length >= legacy.length && legacy.every((b, i) => bytes[i] === b)) {
    return `magic ${head}: this is the legacy torch.save format of torch < 1.6; re-save it with torch.save in a recent torch`;
  }
  if (bytes.length === 0) return 'the file is empty';
  return `magic ${head}, expected 50 4b 03 04`;
}

/**
 * The one data.pkl of the archive. torch writes exactly one; with two (under different folders: the zip
 * reader already refuses two of one name) which is the checkpoint would be our guess, so refuse.
 */
function findPickle(zip: ZipArchive, name: string): string {
  const candidates = [...zip.entries.keys()].filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (candidates.length === 0) {
    throw new FlattenError('BAD_FILE', `${name}: zip has no data.pkl entry, so it is not a torch.save checkpoint`);
  }
  if (candidates.length > 1) {
    throw new FlattenError(
      'BAD_FILE',
      `${name}: zip has ${candidates.length} data.pkl entries (${candidates.slice(0, 3).join(', ')}); a torch.save checkpoint has one`,
    );
  }
  return candidates[0];
}

/**
 * Unpickle a torch.save zip. Dicts become Map<string, unknown>, tensors TensorData (see elements.ts
 * for dtype widening), unknown classes inert PyObject; refuses anything that would run code.
 */
export function readPth(bytes: Uint8Array, name = 'checkpoint', opts: ReadOptions = {}): unknown {
  if (!looksLikeZip(bytes)) {
    throw new FlattenError('BAD_FILE', `${name}: not a PyTorch zip checkpoint (${describeMagic(bytes)})`);
  }
  const budget = budgetFor(opts, bytes.length);
  const zip = readZip(bytes, name, { budget });
  const pkl = findPickle(zip, name);
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);

  // torch >= 2.1 records the byte order of the storages; older files are always little-endian.
  let littleEndian = true;
  if (zip.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim();
    if (order !== 'little' && order !== 'big')
      throw new FlattenError('BAD_FILE', `${name}: unknown byteorder '${order}'`);
    littleEndian = order === 'little';
  }

  // Several tensors may view one storage: load each storage once.
  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
      throw new FlattenError('BAD_FILE', `${name}: unsupported persistent id ${pyRepr(pid)}`);
    }
    const [, type, key, , numel] = pid as [string, unknown, unknown, unknown, unknown];
    if (!(type instanceof PyGlobal) || typeof key !== 'string' || !isInt(numel)) {
      throw new FlattenError('BAD_FILE', `${name}: malformed storage id ${pyRepr(pid)}`);
    }
    const kind = Object.hasOwn(STORAGE_KINDS, type.name) ? STORAGE_KINDS[type.name] : undefined;
    if (!type.module.startsWith('torch') || !kind) {
      throw new FlattenError('BAD_FILE', `${name}: unsupported storage type ${type.qualified}`);
    }
    const cached = storages.get(key);
    if (cached) return cached;
    const entry = `${prefix}data/${key}`;
    if (!zip.has(entry))
      throw new FlattenError('BAD_FILE', `${name}: storage ${key} is missing (no zip entry ${entry})`);
    const data = zip.read(entry);
    // torch writes exactly numel elements; any other size means the id and the entry disagree.
    if (data.length !== numel * ELEMENT_SIZE[kind]) {
      throw new FlattenError(
        'BAD_FILE',
        `${name}: storage ${key} is declared as ${numel} elements of ${type.name} but its entry has ${data.length} bytes`,
      );
    }
    const storage = { kind, bytes: data, key };
    storages.set(key, storage);
    return storage;
  };

  // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  const rebuildTensor: Reducer = (args) => {
    const [storage, offset, size, stride] = args;
    const shape = intList(size);
    const strides = intList(stride);
    if (!storage || typeof storage !== 'object' || !('kind' in storage) || !isInt(offset) || !shape || !strides) {
      throw new FlattenError('BAD_FILE', `${name}: malformed _rebuild_tensor_v2 arguments`);
    }
    const st = storage as Storage;
    return gatherStrided(
      { bytes: st.bytes, kind: st.kind, littleEndian },
      { shape, strides, offset },
      { what: `${name}: storage ${st.key}`, budget },
    );
  };
  // Parameters are saved as (tensor, requires_grad, hooks[, state]); the tensor is all we keep.
  const rebuildParameter: Reducer = (args) => {
    if (!isTensorData(args[0])) throw new FlattenError('BAD_FILE', `${name}: _rebuild_parameter without a tensor`);
    return args[0];
  };
  const reducers: Record<string, Reducer> = {
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_parameter': rebuildParameter,
    'torch._utils._rebuild_parameter_with_state': rebuildParameter,
    // torch._tensor._rebuild_from_type_v2(func, new_type, args, state): tensor subclasses; re-dispatch
    // `func` through this same allow-list and drop the subclass.
    'torch._tensor._rebuild_from_type_v2': (args) => {
      const [fn, , inner] = args;
      const r = fn instanceof PyGlobal ? reducers[fn.qualified] : undefined;
      if (!r || !Array.isArray(inner)) {
        throw new FlattenError(
          'UNSAFE_PICKLE',
          `${name}: unpickler refuses to call ${pyRepr(fn)} via _rebuild_from_type_v2`,
        );
      }
      return r(inner);
    },
  };

  return unpickle(zip.read(pkl), { name, persistentLoad, reducers, budget });
}

/** Keys under which training scripts store the weights, in order of preference. */
export const STATE_DICT_KEYS = ['model', 'state_dict', 'model_ema', 'state_dict_ema'] as const;

function asStateDict(v: unknown): StateDict | undefined {
  if (!(v instanceof Map) || v.size === 0) return undefined;
  for (const t of v.values()) if (!isTensorData(t)) return undefined;
  return v as StateDict;
}

/**
 * The weights inside a checkpoint: a bare state_dict (a Map of tensors), or one stored under
 * 'model', 'state_dict', 'model_ema' or 'state_dict_ema'. Keys are returned unchanged.
 */
export function findStateDict(obj: unknown, name = 'checkpoint'): StateDict {
  const bare = asStateDict(obj);
  if (bare) return bare;
  if (!(obj instanceof Map)) {
    const what =
      obj instanceof PyObject
        ? `a pickled ${obj.__class__} object (a whole model saved with torch.save(model)? save model.state_dict() instead)`
        : Array.isArray(obj)
          ? 'a list'
          : obj === null
            ? 'None'
            : isTensorData(obj)
              ? 'a single tensor'
              : `a ${typeof obj}`;
    throw new FlattenError(
      'BAD_KEYS',
      `${name}: no state_dict found: the checkpoint holds ${what}, not a dict of tensors`,
    );
  }
  for (const key of STATE_DICT_KEYS) {
    const sd = asStateDict(obj.get(key));
    if (sd) return sd;
  }
  const keys = [...obj.keys()];
  const shown =
    keys
      .slice(0, 20)
      .map((k) => `'${k}'`)
      .join(', ') + (keys.length > 20 ? `, ... (${keys.length} keys)` : '');
  throw new FlattenError(
    'BAD_KEYS',
    `${name}: no state_dict found: expected a dict of tensors, or one under ${STATE_DICT_KEYS.map((k) => `'${k}'`).join(', ')}; top-level keys are ${shown || '(none)'}`,
  );
}
