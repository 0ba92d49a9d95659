/** Hostile .pth and pickle files: bounded cost, our own errors, no silent guesses (issue 14, classes 1–3). */
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE } from '../../src/core/errors.js';
import { ReadBudget } from '../../src/io/budget.js';
import { findStateDict, readPth, unpickle } from '../../src/io/index.js';
import { PICKLE_LIMITS } from '../../src/io/pickle.js';
import { bytesOf, dictPickle, expectFlattenError, f32Bytes, makePth, op, tensorOps } from './helpers.js';

const load = (...parts: Parameters<typeof bytesOf>) =>
  unpickle(bytesOf(op.proto(2), ...parts, op.stop), { name: 'h.pkl' });
/** `n` rounds of DUP + TUPLE2 over None: a few bytes whose value expands to 2^n items. */
const doubled = (n: number) => [op.none, Array.from({ length: n }, () => [0x32, op.tuple2])];

describe('tiny files that ask for unbounded memory are refused by count, before allocating', () => {
  it('refuses a stride-0 view of a 1-element storage with a huge shape', () => {
    for (const [shape, stride] of [
      [[2 ** 31 - 1], [0]],
      [
        [20000, 20000],
        [0, 0],
      ],
    ]) {
      const pkl = dictPickle([['t', tensorOps('FloatStorage', '0', 1, 0, shape, stride)]]);
      const start = Date.now();
      expectFlattenError(
        () => readPth(makePth(pkl, { '0': f32Bytes([1]) }), 's0.pth'),
        'TOO_LARGE',
        's0.pth',
        'storage 0',
      );
      expect(Date.now() - start).toBeLessThan(1000);
    }
  });

  it('still reads a small repeating view (what expand() saves)', () => {
    const pkl = dictPickle([['t', tensorOps('FloatStorage', '0', 3, 0, [4, 3], [0, 1])]]);
    const t = (readPth(makePth(pkl, { '0': f32Bytes([1, 2, 3]) })) as Map<string, { data: Float32Array }>).get('t')!;
    expect(Array.from(t.data)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
  });

  it('charges every tensor to the read budget and refuses past it', () => {
    const pkl = dictPickle([['t', tensorOps('FloatStorage', '0', 256, 0, [256], [1])]]);
    const file = makePth(pkl, { '0': f32Bytes(new Array(256).fill(0)) });
    const budget = new ReadBudget(2000);
    readPth(file, 'b.pth', { budget });
    expect(budget.bytes).toBeGreaterThanOrEqual(1024);
    expectFlattenError(() => readPth(file, 'b.pth', { budget: new ReadBudget(1000) }), 'TOO_LARGE', 'b.pth');
  });

  it('refuses DUP/TUPLE2 doubling by expanded size, used as a dict key, a persistent id or an OrderedDict pair', () => {
    const start = Date.now();
    expectFlattenError(() => load(op.emptyDict, doubled(30), op.none, op.setitem), 'TOO_LARGE', 'h.pkl', 'expands');
    const pid = dictPickle([['t', [doubled(28), op.binpersid]]]);
    expectFlattenError(() => readPth(makePth(pid), 'p.pth'), 'TOO_LARGE', 'p.pth');
    const od = [
      op.global('collections', 'OrderedDict'),
      doubled(27),
      op.int1(1),
      op.tuple2,
      op.tuple1,
      op.tuple1,
      op.reduce,
    ];
    expectFlattenError(() => load(od), 'TOO_LARGE', 'h.pkl');
    expect(Date.now() - start).toBeLessThan(2000);
  });

  it('keeps messages short: a long repr in a persistent id, a long dict key', () => {
    const pid = dictPickle([['t', [doubled(20), op.binpersid]]]);
    const err = expectFlattenError(() => readPth(makePth(pid), 'p.pth'), 'BAD_FILE', 'unsupported persistent id');
    expect(err.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
    expectFlattenError(() => load(op.emptyDict, doubled(12), op.none, op.setitem), 'TOO_LARGE', "dict key's repr");
    const long = expectFlattenError(
      () => load(op.global('x'.repeat(5000), 'y'), op.emptyTuple, op.reduce),
      'UNSAFE_PICKLE',
    );
    expect(long.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
  });

  it('keeps messages on one line: control characters from a file are shown escaped', () => {
    const pkl = dictPickle([['a\nb\x1b[2J', op.none]]);
    const err = expectFlattenError(
      () => findStateDict(readPth(makePth(pkl)), 'k.pth'),
      'BAD_KEYS',
      "'a\\x0ab\\x1b[2J'",
    );
    expect(err.message).not.toMatch(/[\n\x1b]/);
  });

  it('refuses deep nesting, a huge stack and over-long integers with TOO_LARGE, not a RangeError', () => {
    expectFlattenError(
      () =>
        load(
          op.none,
          Array.from({ length: 100_000 }, () => op.tuple1),
        ),
      'TOO_LARGE',
      'deep',
    );
    const dups = new Uint8Array(PICKLE_LIMITS.stack + 8).fill(0x32);
    dups.set([0x80, 2, 0x4e]);
    expectFlattenError(() => unpickle(dups, { name: 'dup.pkl' }), 'TOO_LARGE', 'dup.pkl', 'stack');
    expectFlattenError(() => load([0x8b, 0, 0, 1, 0], new Uint8Array(65536)), 'TOO_LARGE', 'integer');
  });
});

describe('malformed pickles give our errors, not JS ones', () => {
  it('names a bad text INT, LONG, FLOAT or memo index', () => {
    expectFlattenError(() => load([0x49, 'abc\n']), 'BAD_FILE', 'INT is not a number literal');
    expectFlattenError(() => load([0x4c, '12x\n']), 'BAD_FILE', 'LONG');
    expectFlattenError(() => load([0x46, 'zz\n']), 'BAD_FILE', 'FLOAT');
    expectFlattenError(() => load(op.none, [0x70, '-1\n']), 'BAD_FILE', 'memo index');
    expect(load([0x49, '01\n'], [0x46, 'inf\n'], [0x4c, '5L\n'], op.tuple3)).toEqual([true, Infinity, 5]);
  });

  it('refuses lookups that would reach Object.prototype (dtype or storage named constructor)', () => {
    const pkl = dictPickle([['t', tensorOps('constructor', '0', 1, 0, [1], [1])]]);
    expectFlattenError(
      () => readPth(makePth(pkl, { '0': f32Bytes([1]) }), 'c.pth'),
      'BAD_FILE',
      'unsupported storage type',
    );
  });

  it('refuses a storage whose entry size disagrees with its declared element count', () => {
    const pkl = dictPickle([['t', tensorOps('FloatStorage', '0', 4, 0, [1], [1])]]);
    expectFlattenError(
      () => readPth(makePth(pkl, { '0': f32Bytes([1]) }), 'n.pth'),
      'BAD_FILE',
      'declared as 4 elements',
    );
  });
});

describe('a .pth with more than one data.pkl is refused', () => {
  it('names both entries', () => {
    const pkl = dictPickle([]);
    const two = makePth(pkl, {}, { extra: { 'inner/data.pkl': pkl } });
    expectFlattenError(() => readPth(two, 'two.pth'), 'BAD_FILE', 'two.pth', '2 data.pkl entries');
  });
});
