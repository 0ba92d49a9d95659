import { describe, expect, it } from 'vitest';
import { PyGlobal, PyObject, unpickle } from '../../src/io/index.js';
import { bytesOf, expectFlattenError, op } from './helpers.js';

const load = (...parts: Parameters<typeof bytesOf>): unknown =>
  unpickle(bytesOf(op.proto(2), ...parts, op.stop), { name: 'test.pkl' });
const call =
  (module: string, name: string, ...args: Parameters<typeof bytesOf>) =>
  () =>
    load(op.global(module, name), op.mark, ...args, op.tuple, op.reduce);

describe('unpickle refuses to call functions', () => {
  it.each([
    ['os', 'system'],
    ['posix', 'system'],
    ['nt', 'system'],
    ['builtins', 'eval'],
    ['builtins', 'exec'],
    ['builtins', 'getattr'],
    ['builtins', '__import__'],
    ['subprocess', 'Popen'], // class-like name, but a denied module
    ['subprocess', 'check_output'],
    ['some_module', 'some_function'], // unknown function, harmless-looking module
    ['yacs.config', 'CfgNode.load_cfg'], // a method on a class is still a function
  ])('refuses %s.%s', (module, name) => {
    expectFlattenError(
      call(module, name, op.str('echo pwned')),
      'UNSAFE_PICKLE',
      'test.pkl',
      `refuses to call ${module}.${name}`,
    );
  });

  it('refuses os.system reached through protocol 4 STACK_GLOBAL', () => {
    const f = () =>
      unpickle(
        bytesOf(
          op.proto(4),
          op.shortStr('os'),
          op.memoize,
          op.shortStr('system'),
          op.memoize,
          op.stackGlobal,
          op.shortStr('id'),
          op.tuple1,
          op.reduce,
          op.stop,
        ),
        { name: 'p4.pkl' },
      );
    expectFlattenError(f, 'UNSAFE_PICKLE', 'refuses to call os.system');
  });

  it('refuses constructing classes of denied modules and calling non-globals', () => {
    expectFlattenError(
      () => load(op.global('subprocess', 'Popen'), op.emptyTuple, op.newobj),
      'UNSAFE_PICKLE',
      'construct subprocess.Popen',
    );
    expectFlattenError(
      () => load(op.str('os.system'), op.emptyTuple, op.reduce),
      'UNSAFE_PICKLE',
      "refuses to call 'os.system'",
    );
    expectFlattenError(() => load(0x82, 1), 'UNSAFE_PICKLE', 'extension');
  });

  it('evaluates arguments before the call, so a nested unsafe call is refused too', () => {
    const f = () =>
      load(
        op.global('collections', 'OrderedDict'),
        op.mark,
        op.global('os', 'system'),
        op.str('x'),
        op.tuple1,
        op.reduce,
        op.tuple,
        op.reduce,
      );
    expectFlattenError(f, 'UNSAFE_PICKLE', 'os.system');
  });
});

describe('unpickle turns unknown classes into inert data', () => {
  it('REDUCE on a class-like global (yacs CfgNode with dict items)', () => {
    const v = load(
      op.global('yacs.config', 'CfgNode'),
      op.mark,
      op.emptyDict,
      op.tuple,
      op.reduce,
      op.mark,
      op.str('LR'),
      op.binint(3),
      op.setitems,
    ) as PyObject;
    expect(v).toBeInstanceOf(PyObject);
    expect(v.__class__).toBe('yacs.config.CfgNode');
    expect(v.args).toEqual([new Map()]);
    expect(v.items).toEqual(new Map([['LR', 3]]));
  });

  it('NEWOBJ + BUILD (argparse.Namespace)', () => {
    const v = load(
      op.global('argparse', 'Namespace'),
      op.emptyTuple,
      op.newobj,
      op.emptyDict,
      op.str('lr'),
      op.binint(1),
      op.setitem,
      op.build,
    ) as PyObject;
    expect(v.__class__).toBe('argparse.Namespace');
    expect(v.state).toEqual(new Map([['lr', 1]]));
  });
});

describe('unpickle values', () => {
  it('decodes ints, floats, strings, None and bools', () => {
    const binfloat = [0x47, ...new Uint8Array(new Float64Array([-1.25]).buffer).reverse()]; // big-endian
    const v = load(
      op.mark,
      op.int1(255),
      op.binint(-7),
      [0x4d, 0x34, 0x12],
      [0x8a, 1, 0xff],
      [0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1],
      [0x8a, 0],
      binfloat,
      op.str('héllo'),
      op.none,
      0x88,
      0x89,
      op.tuple,
    );
    expect(v).toEqual([255, -7, 0x1234, -1, 2n ** 64n, 0, -1.25, 'héllo', null, true, false]);
  });

  it('stringifies non-string dict keys Python-style', () => {
    const v = load(
      op.emptyDict,
      op.mark,
      op.int1(0),
      op.str('a'),
      op.int1(1),
      op.str('x'),
      op.tuple2,
      op.str('b'),
      op.none,
      op.int1(2),
      op.setitems,
    );
    expect([...(v as Map<string, unknown>).keys()]).toEqual(['0', "(1, 'x')", 'None']);
  });

  it('handles lists, memo, sets, bytes and _codecs.encode', () => {
    const v = load(
      op.mark,
      op.emptyList,
      [0x71, 5],
      op.mark,
      op.int1(1),
      op.int1(2),
      op.appends,
      [0x68, 5], // BINGET 5: the same list again
      [0x8f, op.mark, op.int1(3), 0x90], // EMPTY_SET, ADDITEMS
      [0x43, 2, 0xde, 0xad], // SHORT_BINBYTES
      op.global('_codecs', 'encode'),
      op.str('\u00ff\u0001'),
      op.str('latin1'),
      op.tuple2,
      op.reduce,
      op.tuple,
    );
    const [list, again, set, bytes, encoded] = v as unknown[];
    expect(list).toEqual([1, 2]);
    expect(again).toBe(list);
    expect(set).toEqual(new Set([3]));
    expect(bytes).toEqual(new Uint8Array([0xde, 0xad]));
    expect(encoded).toEqual(new Uint8Array([0xff, 0x01]));
  });

  it('decodes a numpy float64 scalar (common for max_accuracy)', () => {
    const f8 = new Uint8Array(new Float64Array([81.25]).buffer);
    const latin = String.fromCharCode(...f8);
    const v = load(
      op.global('numpy.core.multiarray', 'scalar'),
      op.global('numpy', 'dtype'),
      op.str('f8'),
      0x89,
      0x88,
      op.tuple3,
      op.reduce,
      op.mark,
      op.int1(3),
      op.str('<'),
      op.none,
      op.none,
      op.none,
      op.binint(-1),
      op.binint(-1),
      op.int1(0),
      op.tuple,
      op.build,
      op.global('_codecs', 'encode'),
      op.str(latin),
      op.str('latin1'),
      op.tuple2,
      op.reduce,
      op.tuple2,
      op.reduce,
    );
    expect(v).toBe(81.25);
  });

  it('handles a very large APPENDS batch', () => {
    const n = 300_000;
    const v = load(
      op.emptyList,
      op.mark,
      Array.from({ length: n }, () => op.int1(1)),
      op.appends,
    ) as number[];
    expect(v.length).toBe(n);
  });

  it('leaves uncalled globals as references', () => {
    const v = load(op.global('torch', 'float32'));
    expect(v).toEqual(new PyGlobal('torch', 'float32'));
  });
});

describe('unpickle rejects malformed data', () => {
  it('names an unknown opcode and its offset', () => {
    expectFlattenError(() => load(0xff), 'BAD_FILE', 'test.pkl', 'unknown opcode 0xff at offset 2');
  });

  it('rejects truncation, missing STOP, stack underflow and bad memo keys', () => {
    const full = bytesOf(op.proto(2), op.str('hello'), op.stop);
    for (let n = 1; n < full.length; n++) {
      expectFlattenError(() => unpickle(full.subarray(0, n), { name: 'cut.pkl' }), 'BAD_FILE', 'cut.pkl');
    }
    expectFlattenError(
      () => unpickle(full.subarray(0, full.length - 1), { name: 'cut.pkl' }),
      'BAD_FILE',
      'without STOP',
    );
    expectFlattenError(() => load(op.reduce), 'BAD_FILE', 'stack underflow');
    expectFlattenError(() => load([0x68, 9]), 'BAD_FILE', 'memo key 9');
    expectFlattenError(() => load(op.none, op.binpersid), 'BAD_FILE', 'persistent id');
  });
});
