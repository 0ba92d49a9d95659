/**
 * The header dict of an .npy file, read by numpy's rules (numpy/lib/format.py, `_read_array_header`):
 * a Python literal dict whose keys are exactly 'descr', 'fortran_order' and 'shape'; 'fortran_order' the
 * literal True or False; 'shape' a tuple of integers, at most 64 of them; the header at most 10,000 bytes
 * (numpy's default `max_header_size`). Anything else is refused by name, as numpy refuses it, rather than
 * read with a guess (a misspelt 'fortran_order' read as C order gives silently transposed data).
 * Stricter than numpy on one point: a key written twice is refused (Python would keep the last one).
 *
 * The literal grammar is flat on purpose: no header numpy writes nests deeper than the shape tuple,
 * so a nested value is refused at once instead of recursed into (30,000 '(' must not overflow the stack).
 */
import { FlattenError } from '../core/errors.js';
import { MAX_RANK } from './elements.js';

/** numpy's default `max_header_size`: larger headers "may not be safe to load securely". */
export const MAX_HEADER_BYTES = 10_000;

export interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

type Scalar = string | number | boolean | null;
type Value = Scalar | { tuple: Scalar[] } | { list: Scalar[] };

const KEYS = ['descr', 'fortran_order', 'shape'];

/** A cursor over the header text; `fail` names the file. */
class Literal {
  private i = 0;
  /** The key whose value is being read, for messages. */
  private key = '';
  constructor(
    private readonly text: string,
    private readonly fail: (why: string) => FlattenError,
  ) {}

  private ws(): void {
    while (this.i < this.text.length && /\s/.test(this.text[this.i])) this.i++;
  }
  private peek(): string {
    this.ws();
    return this.text[this.i] ?? '';
  }
  private expect(c: string): void {
    if (this.peek() !== c) throw this.bad(`expected '${c}'`);
    this.i++;
  }
  private bad(why: string): FlattenError {
    const near = JSON.stringify(this.text.slice(this.i, this.i + 12));
    const inKey = this.key ? ` in the value of '${this.key}'` : '';
    return this.fail(`bad .npy header: ${why}${inKey} at character ${this.i} (near ${near})`);
  }

  private scalar(): Scalar {
    const c = this.peek();
    if (c === "'" || c === '"') {
      const end = this.text.indexOf(c, this.i + 1);
      if (end < 0) throw this.bad('unterminated string');
      const s = this.text.slice(this.i + 1, end);
      if (s.includes('\\')) throw this.bad('escape sequences are not used in .npy headers');
      this.i = end + 1;
      return s;
    }
    const m = /^(True|False|None|-?\d+L?)(?![\w.])/.exec(this.text.slice(this.i, this.i + 40));
    if (!m)
      throw this.bad(
        c === '(' || c === '[' || c === '{' ? 'nested value (structured dtypes are not supported)' : 'unexpected text',
      );
    this.i += m[0].length;
    return m[1] === 'True' ? true : m[1] === 'False' ? false : m[1] === 'None' ? null : Number(m[1].replace('L', ''));
  }

  /** A scalar, or a flat tuple or list of scalars (Python's `(5)` is the int 5, `(5,)` a tuple). */
  private value(): Value {
    const open = this.peek();
    if (open !== '(' && open !== '[') return this.scalar();
    const close = open === '(' ? ')' : ']';
    this.i++;
    const items: Scalar[] = [];
    let comma = false;
    while (this.peek() !== close) {
      items.push(this.scalar());
      if (this.peek() === ',') {
        this.i++;
        comma = true;
      } else if (this.peek() !== close) throw this.bad(`expected ',' or '${close}'`);
    }
    this.i++;
    if (open === '[') return { list: items };
    return items.length === 1 && !comma ? items[0] : { tuple: items };
  }

  dict(): Map<string, Value> {
    const out = new Map<string, Value>();
    this.expect('{');
    while (this.peek() !== '}') {
      const key = this.scalar();
      if (typeof key !== 'string') throw this.bad('dict key is not a string');
      if (out.has(key)) throw this.bad(`key '${key}' appears twice`);
      this.expect(':');
      this.key = key;
      out.set(key, this.value());
      this.key = '';
      if (this.peek() === ',') this.i++;
      else if (this.peek() !== '}') throw this.bad("expected ',' or '}'");
    }
    this.i++;
    if (this.peek() !== '') throw this.bad('text after the header dict');
    return out;
  }
}

function show(v: Value | undefined): string {
  if (v === undefined) return 'missing';
  if (v !== null && typeof v === 'object') return 'tuple' in v ? `(${v.tuple.join(', ')})` : `[${v.list.join(', ')}]`;
  return typeof v === 'string' ? `'${v}'` : String(v);
}

/** Parse and check the header text (already decoded); `fail` builds a BAD_FILE naming the file. */
export function parseNpyHeader(text: string, fail: (why: string) => FlattenError): NpyHeader {
  const d = new Literal(text, fail).dict();
  const keys = [...d.keys()].sort();
  if (keys.join() !== KEYS.join())
    throw fail(
      `bad .npy header: keys must be exactly ${KEYS.map((k) => `'${k}'`).join(', ')}, got ${keys.map((k) => `'${k}'`).join(', ') || 'none'}`,
    );
  const descr = d.get('descr')!;
  const fortran = d.get('fortran_order')!;
  const shape = d.get('shape')!;
  if (typeof descr !== 'string') throw fail(`unsupported dtype ${show(descr)} (structured arrays are not supported)`);
  if (typeof fortran !== 'boolean')
    throw fail(`bad .npy header: 'fortran_order' must be True or False, got ${show(fortran)}`);
  if (shape === null || typeof shape !== 'object' || !('tuple' in shape))
    throw fail(`bad .npy header: 'shape' must be a tuple of integers, got ${show(shape)}`);
  const dims = shape.tuple;
  if (!dims.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0))
    throw fail(`bad .npy header: 'shape' ${show(shape)} must hold non-negative integers`);
  if (dims.length > MAX_RANK)
    throw fail(`bad .npy header: 'shape' has ${dims.length} dimensions, more than ${MAX_RANK}`);
  return { descr, fortranOrder: fortran, shape: dims as number[] };
}
