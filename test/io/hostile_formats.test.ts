/** Hostile .npy, safetensors, zip, JSON, ONNX files and model kwargs (issue 14, classes 1–3). */
import { describe, expect, it } from 'vitest';
import { DEIT_DEFAULTS } from '../../src/models/deit.js';
import { resolveKwargs, INERT_KWARGS } from '../../src/models/config.js';
import { readNpy, readSafetensors, readZip, writeNpy, writeSafetensors } from '../../src/io/index.js';
import { parseJson } from '../../src/io/json.js';
import { crc32 } from '../../src/io/crc32.js';
import { checkOnnxModel } from '../../src/engines/onnx/model_check.js';
import { OnnxSession } from '../../src/engines/onnx/session.js';
import { DataType, encodeModel } from '../../src/engines/onnx/proto.js';
import { expectFlattenError } from './helpers.js';

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** A version 1.0 .npy with this header dict text and these data bytes. */
function npy(dict: string, data = new Uint8Array(4)): Uint8Array {
  const header = `${dict}\n`;
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(latin1(header), 10);
  out.set(data, 10 + header.length);
  return out;
}
const dict = (fortran: string, shape = '(1,)', extra = '') =>
  `{'descr': '<f4', 'fortran_order': ${fortran}, 'shape': ${shape}, ${extra}}`;

describe('.npy headers follow numpy format rules', () => {
  it('reads what numpy writes', () => {
    expect(readNpy(npy(dict('False'))).shape).toEqual([1]);
    expect(readNpy(npy(dict('True', '(1, 1)'))).shape).toEqual([1, 1]);
  });

  it('refuses a fortran_order that is not the literal True or False (it was read as C order)', () => {
    for (const v of ['1', "'True'", 'None', 'true'])
      expectFlattenError(() => readNpy(npy(dict(v)), 'f.npy'), 'BAD_FILE', 'f.npy', 'fortran_order');
  });

  it('refuses missing, misspelt, unknown and repeated keys', () => {
    const cases = [
      "{'descr': '<f4', 'shape': (1,), }",
      "{'descr': '<f4', 'fortran_ordr': False, 'shape': (1,), }",
      dict('False', '(1,)', "'extra': 1, "),
    ];
    for (const c of cases)
      expectFlattenError(() => readNpy(npy(c), 'k.npy'), 'BAD_FILE', 'k.npy', 'keys must be exactly');
    expectFlattenError(
      () => readNpy(npy(dict('False', '(1,)', "'shape': (1,), ")), 'k.npy'),
      'BAD_FILE',
      'appears twice',
    );
  });

  it('refuses a shape written as a list or an int, and more than 64 dimensions', () => {
    expectFlattenError(() => readNpy(npy(dict('False', '[1]')), 's.npy'), 'BAD_FILE', "'shape' must be a tuple");
    expectFlattenError(() => readNpy(npy(dict('False', '(1)')), 's.npy'), 'BAD_FILE', "'shape' must be a tuple");
    const d65 = `(${new Array(65).fill(1).join(', ')})`;
    expectFlattenError(() => readNpy(npy(dict('False', d65)), 's.npy'), 'BAD_FILE', '65 dimensions');
  });

  it('refuses 30,000 nested parentheses with a FlattenError, not a RangeError', () => {
    const deep = dict('False', `${'('.repeat(30000)}1${')'.repeat(30000)}`);
    const big = new Uint8Array(10 + 4 + deep.length + 1);
    big.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]);
    new DataView(big.buffer).setUint32(8, deep.length + 1, true);
    big.set(latin1(`${deep}\n`), 12);
    expectFlattenError(() => readNpy(big, 'deep.npy'), 'BAD_FILE', 'deep.npy', '10000');
    expectFlattenError(() => readNpy(npy(dict('False', '((1,),)')), 'n.npy'), 'BAD_FILE', 'nested value');
  });

  it('refuses unknown format versions and dtype names that are Object.prototype keys', () => {
    const v11 = writeNpy({ dtype: 'float32', shape: [1], data: new Float32Array(1) });
    v11[7] = 1;
    expectFlattenError(() => readNpy(v11, 'v.npy'), 'BAD_FILE', 'version 1.1');
    expectFlattenError(
      () => readNpy(npy(dict('False').replace('<f4', '<constructor')), 'c.npy'),
      'BAD_FILE',
      'unsupported dtype',
    );
  });
});

describe('safetensors: holes, trailing bytes and duplicate keys are refused', () => {
  const make = (header: object | string, data: Uint8Array) => {
    const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
    const out = new Uint8Array(8 + h.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
    out.set(h, 8);
    out.set(data, 8 + h.length);
    return out;
  };
  const t = (begin: number) => ({ dtype: 'F32', shape: [1], data_offsets: [begin, begin + 4] });

  it('reads a tiled data section', () => {
    expect(readSafetensors(make({ a: t(0), b: t(4) }, new Uint8Array(8))).tensors.size).toBe(2);
  });
  it('refuses a hole between tensors and bytes after the last', () => {
    expectFlattenError(
      () => readSafetensors(make({ a: t(0), b: t(8) }, new Uint8Array(12)), 'h.st'),
      'BAD_FILE',
      'h.st',
      'bytes 4..8',
    );
    expectFlattenError(
      () => readSafetensors(make({ a: t(0) }, new Uint8Array(8)), 'h.st'),
      'BAD_FILE',
      'after the last',
    );
  });
  it('refuses a tensor named twice, naming it', () => {
    const dup = `{"a":${JSON.stringify(t(0))},"a":${JSON.stringify(t(4))}}`;
    expectFlattenError(
      () => readSafetensors(make(dup, new Uint8Array(8)), 'd.st'),
      'BAD_FILE',
      'd.st',
      '"a" appears twice',
    );
  });
  it('names the file and field on bad JSON, without the engine message', () => {
    const err = expectFlattenError(
      () => readSafetensors(make('{"a":', new Uint8Array(0)), 'j.st'),
      'BAD_FILE',
      'j.st: safetensors header: not valid JSON',
    );
    expect(err.message).not.toMatch(/SyntaxError|Unexpected/);
    expectFlattenError(
      () => readSafetensors(make({ a: { ...t(0), dtype: 'constructor' } }, new Uint8Array(4))),
      'BAD_FILE',
      'unsupported dtype',
    );
    const ok = writeSafetensors(new Map([['w', { dtype: 'float32', shape: [1], data: new Float32Array(1) }]]));
    expect(readSafetensors(ok).tensors.get('w')!.shape).toEqual([1]);
  });
});

describe('checkpoint metadata JSON and model kwargs', () => {
  it("turns a bad 'flatten.kwargs' into a FlattenError naming the file and the field", () => {
    const src = { file: 'last.safetensors', field: "metadata 'flatten.kwargs'", object: true };
    expectFlattenError(
      () => parseJson('{"depth": 4', src),
      'BAD_FILE',
      "last.safetensors: metadata 'flatten.kwargs': not valid JSON",
    );
    expectFlattenError(() => parseJson('[1]', src), 'BAD_FILE', 'must be a JSON object');
    expectFlattenError(() => parseJson('['.repeat(100) + ']'.repeat(100), src), 'TOO_LARGE', 'nests');
  });
  it('refuses depth 1e8 and other out-of-range kwargs by name before building', () => {
    const build = (kw: Record<string, unknown>) => resolveKwargs('deit', DEIT_DEFAULTS, kw, INERT_KWARGS);
    expectFlattenError(() => build({ depth: 1e8 }), 'BAD_CONFIG', "deit: 'depth' must be an integer from 0 to 64");
    expectFlattenError(() => build({ embed_dim: 1.5 }), 'BAD_CONFIG', "'embed_dim'");
    expectFlattenError(() => build({ img_size: -1 }), 'BAD_CONFIG', "'img_size'");
    expectFlattenError(() => build({ drop_path_rate: NaN }), 'BAD_CONFIG', "'drop_path_rate'");
    expect(build({ depth: 4, embed_dim: 64 }).depth).toBe(4);
  });
});

/** One stored zip entry with a chosen central-directory size field and extra block. */
function zipWith(opts: { size?: number; extra?: number[] }): Uint8Array {
  const name = latin1('a/data.pkl');
  const data = new Uint8Array([0x80, 2, 0x4e, 0x2e]);
  const extra = opts.extra ?? [];
  const local = new Uint8Array(30 + name.length + data.length);
  const lv = new DataView(local.buffer);
  lv.setUint32(0, 0x04034b50, true);
  lv.setUint32(14, crc32(data), true);
  lv.setUint32(18, data.length, true);
  lv.setUint32(22, data.length, true);
  lv.setUint16(26, name.length, true);
  local.set(name, 30);
  local.set(data, 30 + name.length);
  const cd = new Uint8Array(46 + name.length + extra.length);
  const cv = new DataView(cd.buffer);
  cv.setUint32(0, 0x02014b50, true);
  cv.setUint32(16, crc32(data), true);
  cv.setUint32(20, data.length, true);
  cv.setUint32(24, opts.size ?? data.length, true);
  cv.setUint16(28, name.length, true);
  cv.setUint16(30, extra.length, true);
  cd.set(name, 46);
  cd.set(extra, 46 + name.length);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, 1, true);
  ev.setUint16(10, 1, true);
  ev.setUint32(12, cd.length, true);
  ev.setUint32(16, local.length, true);
  const out = new Uint8Array(local.length + cd.length + 22);
  out.set(local);
  out.set(cd, local.length);
  out.set(eocd, local.length + cd.length);
  return out;
}

describe('zip structure is bounds-checked field by field', () => {
  it('reads the hand-built entry', () => {
    expect(readZip(zipWith({}), 'z.pth').read('a/data.pkl').length).toBe(4);
  });
  it('refuses a ZIP64 extra block that is shorter than the fields it must hold', () => {
    // header id 1, size 4: the 8-byte size it must carry would be read past the block
    const z = zipWith({ size: 0xffffffff, extra: [1, 0, 4, 0, 0, 0, 0, 0] });
    expectFlattenError(() => readZip(z, 'z64.pth'), 'BAD_FILE', 'z64.pth', 'ZIP64 size runs past its end');
    // a block that claims more bytes than the extra field has
    const z2 = zipWith({ extra: [9, 0, 200, 0] });
    expectFlattenError(() => readZip(z2, 'x.pth'), 'BAD_FILE', 'extra field runs past its end');
  });
  it('refuses two entries of one name', () => {
    const z = zipWith({});
    // central directory count 2, pointing at the same record twice
    const cdStart = 30 + 10 + 4;
    const cd = z.subarray(cdStart, z.length - 22);
    const two = new Uint8Array(cdStart + 2 * cd.length + 22);
    two.set(z.subarray(0, cdStart));
    two.set(cd, cdStart);
    two.set(cd, cdStart + cd.length);
    two.set(z.subarray(z.length - 22), cdStart + 2 * cd.length);
    const ev = new DataView(two.buffer, cdStart + 2 * cd.length);
    ev.setUint16(8, 2, true);
    ev.setUint16(10, 2, true);
    ev.setUint32(12, 2 * cd.length, true);
    expectFlattenError(() => readZip(two, 'dup.pth'), 'BAD_FILE', 'two entries named a/data.pkl');
  });
});

describe('ONNX: our checks before ORT, and input data against its shape', () => {
  const model = encodeModel({
    graphName: 'g',
    nodes: [{ op: 'Add', inputs: ['input', 'b'], outputs: ['logits'] }],
    initializers: [{ name: 'b', dims: [3], dataType: DataType.FLOAT, raw: new Uint8Array(12) }],
    inputs: [{ name: 'input', dataType: DataType.FLOAT, shape: ['batch', 3] }],
    outputs: [{ name: 'logits', dataType: DataType.FLOAT, shape: ['batch', 3] }],
    opsets: [{ domain: '', version: 17 }],
    producer: { name: 'test', version: '0' },
  });

  it('accepts our own model and refuses damaged ones by name', () => {
    checkOnnxModel(model, 'm.onnx');
    expectFlattenError(() => checkOnnxModel(model.subarray(0, model.length - 3), 'cut.onnx'), 'BAD_FILE', 'cut.onnx');
    expectFlattenError(() => checkOnnxModel(new Uint8Array([8, 1]), 'ng.onnx'), 'BAD_FILE', 'no graph');
    const short = encodeModel({
      graphName: 'g',
      nodes: [],
      inputs: [],
      outputs: [],
      opsets: [],
      producer: { name: '', version: '' },
      initializers: [{ name: 'b', dims: [1000], dataType: DataType.FLOAT, raw: new Uint8Array(12) }],
    });
    expectFlattenError(() => checkOnnxModel(short, 's.onnx'), 'BAD_FILE', 'raw_data has 12 bytes');
  });

  it('refuses data whose length does not match its shape, before ORT sees it', async () => {
    const s = await OnnxSession.create(model, 'm.onnx', { threads: 1 });
    const good = await s.run({ input: { dtype: 'float32', shape: [2, 3], data: new Float32Array(6) } });
    expect(good.logits.shape).toEqual([2, 3]);
    await expect(s.run({ input: { dtype: 'float32', shape: [2, 3], data: new Float32Array(5) } })).rejects.toThrow(
      /m\.onnx: input 'input' has shape \(2, 3\) \(6 values\) but its data holds 5/,
    );
    await s.release();
  });
});
