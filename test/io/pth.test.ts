import { describe, expect, it } from 'vitest';
import { FlattenError } from '../../src/core/errors.js';
import type { TensorData } from '../../src/core/tensor.js';
import { findStateDict, isTensorData, PyGlobal, PyObject, readPth, readPthFile } from '../../src/io/index.js';
import {
  bytesOf,
  dictPickle,
  expected,
  expectFlattenError,
  expectTensor,
  f32Bytes,
  fixture,
  fixtureBytes,
  makePth,
  op,
  tensorOps,
} from './helpers.js';

const asMap = (v: unknown): Map<string, unknown> => {
  expect(v).toBeInstanceOf(Map);
  return v as Map<string, unknown>;
};

describe('readPth on torch.save fixtures (torch 1.13)', () => {
  it('reads strided, offset, shared-storage and every dtype exactly as torch has them', () => {
    const sd = asMap(readPthFile(fixture('tensors.pth')));
    const want = expected['tensors.pth'].tensors as Record<string, never>;
    expect([...sd.keys()]).toEqual(Object.keys(want)); // file order is kept
    for (const [k, e] of Object.entries(want)) expectTensor(sd.get(k), e, k);
  });

  it('gives every tensor its own data even when storages are shared', () => {
    const sd = findStateDict(readPthFile(fixture('tensors.pth')));
    const a = sd.get('shared_a')!;
    const b = sd.get('shared_b')!;
    expect(a.data.buffer).not.toBe(b.data.buffer);
    (a.data as Float32Array)[0] = 1234;
    expect(Array.from(b.data as Float32Array)).not.toContain(1234);
  });

  it('reads pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL)', () => {
    const sd = asMap(readPthFile(fixture('protocol4.pth')));
    for (const [k, e] of Object.entries(expected['protocol4.pth'].tensors as Record<string, never>))
      expectTensor(sd.get(k), e, k);
  });

  it('reads the official training layout with optimizer, scheduler and config objects', () => {
    const exp = expected['official.pth'];
    const ckpt = asMap(readPthFile(fixture('official.pth')));
    expect([...ckpt.keys()]).toEqual(exp.top_keys);
    expect(ckpt.get('epoch')).toBe(3);
    expect(ckpt.get('max_accuracy')).toBe(81.2);
    const model = asMap(ckpt.get('model'));
    for (const [k, e] of Object.entries(exp.model as Record<string, never>)) expectTensor(model.get(k), e, k);
    // Optimizer state is keyed by parameter index: int keys become strings.
    const optState = asMap(asMap(ckpt.get('optimizer')).get('state'));
    expect([...optState.keys()]).toEqual(exp.optimizer_state_keys);
    expectTensor(asMap(optState.get('0')).get('exp_avg'), exp.exp_avg_0, 'exp_avg');
    expect(asMap(ckpt.get('lr_scheduler')).get('step_size')).toBe(10);
    // argparse.Namespace and a __main__ class come back as inert data.
    const config = ckpt.get('config') as PyObject;
    expect(config).toBeInstanceOf(PyObject);
    expect(config.__class__).toBe('argparse.Namespace');
    expect(Object.fromEntries(asMap(config.state))).toEqual(exp.config);
    const extra = ckpt.get('extra') as PyObject;
    expect(extra.__class__).toBe('__main__.TrainConfig');
    expect(asMap(extra.state).get('name')).toBe('tiny');
  });
});

describe('findStateDict', () => {
  const t: TensorData = { dtype: 'float32', shape: [1], data: new Float32Array([1]) };
  const sd = new Map([['w', t]]);

  it('finds the weights under model (nested layout) and keeps keys as they are', () => {
    const found = findStateDict(readPthFile(fixture('official.pth')), 'official.pth');
    expect([...found.keys()]).toEqual(Object.keys(expected['official.pth'].model));
  });

  it.each(['model', 'state_dict', 'model_ema', 'state_dict_ema'])('accepts {%s: state_dict}', (key) => {
    expect(
      findStateDict(
        new Map<string, unknown>([
          ['epoch', 1],
          [key, sd],
        ]),
      ),
    ).toBe(sd);
  });

  it('accepts a bare state_dict', () => {
    expect(findStateDict(sd)).toBe(sd);
    expect(findStateDict(readPthFile(fixture('tensors.pth'))).size).toBe(17);
  });

  it('prefers model over model_ema', () => {
    const ema = new Map([['w', t]]);
    expect(
      findStateDict(
        new Map<string, unknown>([
          ['model_ema', ema],
          ['model', sd],
        ]),
      ),
    ).toBe(sd);
  });

  it('lists the top-level keys when no state_dict is found', () => {
    expectFlattenError(
      () =>
        findStateDict(
          new Map<string, unknown>([
            ['epoch', 3],
            ['net', sd],
          ]),
          'ckpt.pth',
        ),
      'BAD_KEYS',
      'ckpt.pth',
      "'epoch', 'net'",
      "'model'",
    );
    expectFlattenError(() => findStateDict(new Map([['model', new Map([['w', 3]])]]), 'x'), 'BAD_KEYS', "'model'");
    expectFlattenError(() => findStateDict([1, 2], 'list.pth'), 'BAD_KEYS', 'list.pth', 'a list');
    expectFlattenError(() => findStateDict(new Map(), 'empty.pth'), 'BAD_KEYS', '(none)');
  });
});

describe('readPth refuses unsafe pickles', () => {
  it('refuses os.system (pickled as posix.system) without running it', () => {
    expect(expected['malicious_os_system.pth'].global).toBe('posix.system');
    expectFlattenError(
      () => readPthFile(fixture('malicious_os_system.pth')),
      'UNSAFE_PICKLE',
      'malicious_os_system.pth',
      'refuses to call posix.system',
    );
  });

  it('refuses a call to an unknown function global', () => {
    expectFlattenError(
      () => readPthFile(fixture('unknown_global.pth')),
      'UNSAFE_PICKLE',
      'refuses to call some_module.some_function',
    );
  });

  it('refuses a disallowed function smuggled through _rebuild_from_type_v2', () => {
    // REDUCE(_rebuild_from_type_v2, (os.system, None, ('echo pwned',), {}))
    const evil = bytesOf(
      op.proto(2),
      op.global('torch._tensor', '_rebuild_from_type_v2'),
      op.mark,
      op.global('os', 'system'),
      op.none,
      [op.str('echo pwned'), op.tuple1],
      op.emptyDict,
      op.tuple,
      op.reduce,
      op.stop,
    );
    expectFlattenError(() => readPth(makePth(evil), 'evil.pth'), 'UNSAFE_PICKLE', 'os.system');
  });
});

describe('readPth on hand-built zips', () => {
  it('honours storage offsets, strides and zip-level deflate', () => {
    const pkl = dictPickle([['t', tensorOps('FloatStorage', '0', 8, 1, [3, 2], [1, 3])]]);
    for (const level of [0, 6] as const) {
      const sd = asMap(
        readPth(makePth(pkl, { '0': f32Bytes([0, 1, 2, 3, 4, 5, 6, 7]) }, { level, prefix: 'some_name' })),
      );
      expectTensor(sd.get('t'), { dtype: 'float32', shape: [3, 2], values: [1, 4, 2, 5, 3, 6] });
    }
  });

  it('reads big-endian storages when byteorder says so', () => {
    const be = new Uint8Array(8);
    new DataView(be.buffer).setFloat32(0, 1.5, false);
    new DataView(be.buffer).setFloat32(4, -2, false);
    const pkl = dictPickle([['t', tensorOps('FloatStorage', '0', 2, 0, [2], [1])]]);
    const sd = asMap(readPth(makePth(pkl, { '0': be }, { extra: { byteorder: new TextEncoder().encode('big') } })));
    expectTensor(sd.get('t'), { dtype: 'float32', shape: [2], values: [1.5, -2] });
  });

  it('rejects a view that reaches past its storage', () => {
    const pkl = dictPickle([['t', tensorOps('FloatStorage', '0', 4, 2, [2, 2], [2, 1])]]);
    expectFlattenError(
      () => readPth(makePth(pkl, { '0': f32Bytes([0, 1, 2, 3]) }), 'v.pth'),
      'BAD_FILE',
      'v.pth',
      'out of range',
    );
  });

  it('rejects a missing storage entry and an unknown storage type', () => {
    const pkl = dictPickle([['t', tensorOps('FloatStorage', '7', 1, 0, [1], [1])]]);
    expectFlattenError(() => readPth(makePth(pkl), 'm.pth'), 'BAD_FILE', 'storage 7 is missing');
    const cpl = dictPickle([['t', tensorOps('ComplexFloatStorage', '0', 1, 0, [1], [1])]]);
    expectFlattenError(
      () => readPth(makePth(cpl, { '0': f32Bytes([1, 2]) }), 'c.pth'),
      'BAD_FILE',
      'torch.ComplexFloatStorage',
    );
  });

  it('rejects a zip without data.pkl', () => {
    const zip = makePth(bytesOf(op.proto(2), op.none, op.stop), {}, { prefix: 'x' });
    // rename data.pkl inside the zip (same length keeps the structure valid)
    const bad = zip.slice();
    const s = new TextDecoder('latin1').decode(bad);
    for (let i = s.indexOf('data.pkl'); i >= 0; i = s.indexOf('data.pkl', i + 1))
      bad.set(new TextEncoder().encode('data.pkx'), i);
    expectFlattenError(() => readPth(bad, 'nopkl.pth'), 'BAD_FILE', 'nopkl.pth', 'data.pkl');
  });
});

describe('readPth on damaged files', () => {
  const good = fixtureBytes('tensors.pth');

  it('rejects truncated files with BAD_FILE naming the file', () => {
    expectFlattenError(
      () => readPth(good.subarray(0, good.length >> 1), 'cut.pth'),
      'BAD_FILE',
      'cut.pth',
      /truncated/,
    );
    expectFlattenError(() => readPth(good.subarray(0, good.length - 30), 'cut.pth'), 'BAD_FILE', 'cut.pth');
    // every prefix must fail cleanly, never with a RangeError or a wrong result
    for (let len = 0; len < good.length; len += 97) {
      expect(() => readPth(good.subarray(0, len), 'cut.pth'), `prefix ${len}`).toThrow(FlattenError);
    }
  });

  it('detects a flipped byte in the pickle and in tensor data (CRC-32)', () => {
    const text = new TextDecoder('latin1').decode(good);
    const inPickle = good.slice();
    inPickle[text.indexOf('transposed') + 2] ^= 0x20;
    expectFlattenError(() => readPth(inPickle, 'bad.pth'), 'BAD_FILE', 'bad.pth', 'data.pkl', 'CRC');
    // the storage of 'transposed' holds float32 0..11: flip the low mantissa bit of 5
    const inData = good.slice();
    const five = new TextDecoder('latin1').decode(new Uint8Array(new Float32Array([4, 5, 6]).buffer));
    expect(text.indexOf(five)).toBeGreaterThan(0);
    inData[text.indexOf(five) + 4] ^= 0x01;
    expectFlattenError(() => readPth(inData, 'bad.pth'), 'BAD_FILE', 'CRC');
  });

  it('never fails with anything but a FlattenError on single-byte corruption', () => {
    for (let i = 0; i < good.length; i += 7) {
      const bad = good.slice();
      bad[i] ^= 0xa5;
      try {
        readPth(bad, 'fuzz.pth');
      } catch (err) {
        expect(err, `byte ${i}: ${String(err)}`).toBeInstanceOf(FlattenError);
      }
    }
  });

  it('rejects wrong magic numbers: legacy torch format, random bytes, empty file', () => {
    expectFlattenError(
      () => readPthFile(fixture('legacy.pth')),
      'BAD_FILE',
      'legacy.pth',
      'not a PyTorch zip checkpoint',
      'legacy',
    );
    const random = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);
    expectFlattenError(
      () => readPth(random, 'rand.bin'),
      'BAD_FILE',
      'rand.bin: not a PyTorch zip checkpoint (magic 0b 30 55 7a',
    );
    expectFlattenError(() => readPth(new Uint8Array(0), 'empty.pth'), 'BAD_FILE', 'empty');
    expectFlattenError(() => readPthFile(fixture('does_not_exist.pth')), 'BAD_FILE', 'does_not_exist.pth', 'ENOENT');
  });
});

describe('inert values', () => {
  it('keeps dtype globals as references', () => {
    const pkl = bytesOf(op.proto(2), op.global('torch', 'float16'), op.stop);
    const v = readPth(makePth(pkl));
    expect(v).toBeInstanceOf(PyGlobal);
    expect((v as PyGlobal).qualified).toBe('torch.float16');
    expect(isTensorData(v)).toBe(false);
  });
});
