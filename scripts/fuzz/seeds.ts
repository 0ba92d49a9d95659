/**
 * Valid inputs to mutate, per format: small files built here in code, plus the test fixtures and the
 * golden checkpoints when they are present (../shared beside the clone).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { zipSync } from 'fflate';
import type { StateDict, TensorData } from '../../src/core/tensor.js';
import { writeNpy } from '../../src/io/npy.js';
import { writeSafetensors } from '../../src/io/safetensors_format.js';
import { DataType, encodeModel } from '../../src/engines/onnx/proto.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = `${ROOT}test/fixtures/io/`;
export const GOLDEN = `${ROOT}../shared/golden/`;

const read = (path: string) => new Uint8Array(readFileSync(path));
const fixtures = (ext: string) =>
  readdirSync(FIXTURES)
    .filter((f) => f.endsWith(ext))
    .map((f) => read(FIXTURES + f));

/** Golden case folders that hold a checkpoint, whole models or single attention modules. */
export function goldenCases(kind: 'model' | 'attention' | 'any'): string[] {
  if (!existsSync(GOLDEN)) return [];
  return readdirSync(GOLDEN).filter((d) => {
    if (!existsSync(`${GOLDEN}${d}/checkpoint.pth`)) return false;
    return kind === 'any' || (kind === 'attention') === d.startsWith('attn_');
  });
}

const f32 = (shape: number[], start = 0): TensorData => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', shape, data: Float32Array.from({ length: n }, (_, i) => start + i / 8) };
};
const SAMPLES: TensorData[] = [
  f32([2, 3]),
  f32([]),
  f32([0, 4]),
  f32([1, 1, 2, 1, 1, 1, 1, 2]),
  { dtype: 'int64', shape: [3], data: new BigInt64Array([-1n, 2n ** 40n, 7n]) },
  { dtype: 'int32', shape: [2, 2], data: new Int32Array([1, -2, 3, -4]) },
  { dtype: 'uint8', shape: [5], data: new Uint8Array([0, 1, 127, 128, 255]) },
  { dtype: 'bool', shape: [2], data: new Uint8Array([1, 0]) },
];

export function npySeeds(): Uint8Array[] {
  return [...SAMPLES.map(writeNpy), ...fixtures('.npy')];
}

export function safetensorsSeeds(): Uint8Array[] {
  const sd: StateDict = new Map(SAMPLES.map((t, i) => [`layer.${i}.weight`, t]));
  return [
    writeSafetensors(sd, { format: 'pt', 'flatten.kwargs': '{"depth": 2}' }),
    writeSafetensors(new Map([['w', f32([4, 4])]])),
    writeSafetensors(new Map()),
  ];
}

/** A protocol 2 pickle of {name: tensor} over float storages, written the way torch.save writes it. */
function torchPickle(entries: { name: string; key: string; numel: number; shape: number[]; stride: number[] }[]) {
  const out: number[] = [0x80, 2, 0x7d, 0x28];
  const str = (s: string) => out.push(0x8c, s.length, ...new TextEncoder().encode(s));
  const int = (v: number) => out.push(0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
  const tuple = (xs: number[]) => (out.push(0x28), xs.forEach(int), out.push(0x74));
  for (const e of entries) {
    str(e.name);
    out.push(0x63, ...new TextEncoder().encode('torch._utils\n_rebuild_tensor_v2\n'), 0x28, 0x28);
    str('storage');
    out.push(0x63, ...new TextEncoder().encode('torch\nFloatStorage\n'));
    str(e.key);
    str('cpu');
    int(e.numel);
    out.push(0x74, 0x51);
    int(0);
    tuple(e.shape);
    tuple(e.stride);
    out.push(0x89, 0x63, ...new TextEncoder().encode('collections\nOrderedDict\n'), 0x29, 0x52, 0x74, 0x52);
  }
  out.push(0x75, 0x2e);
  return new Uint8Array(out);
}

export function pthSeeds(): Uint8Array[] {
  const pkl = torchPickle([
    { name: 'w', key: '0', numel: 6, shape: [2, 3], stride: [3, 1] },
    { name: 'wt', key: '0', numel: 6, shape: [3, 2], stride: [1, 3] },
    { name: 'expanded', key: '1', numel: 2, shape: [4, 2], stride: [0, 1] },
  ]);
  const built = zipSync({
    'archive/data.pkl': [pkl, { level: 0 }],
    'archive/data/0': [new Uint8Array(f32([6]).data.buffer), { level: 0 }],
    'archive/data/1': [new Uint8Array(f32([2], 5).data.buffer), { level: 0 }],
    'archive/version': [new TextEncoder().encode('3\n'), { level: 0 }],
  });
  return [built, ...fixtures('.pth'), ...goldenCases('any').map((d) => read(`${GOLDEN}${d}/checkpoint.pth`))];
}

export async function imageSeeds(): Promise<Uint8Array[]> {
  const base = (channels: 3 | 4) =>
    sharp({ create: { width: 9, height: 7, channels, background: { r: 200, g: 30, b: 90, alpha: 0.5 } } });
  return Promise.all([
    base(3).png().toBuffer(),
    base(3).jpeg({ quality: 80 }).toBuffer(),
    base(4).webp().toBuffer(),
    base(4).gif().toBuffer(),
    base(3).grayscale().png().toBuffer(),
    base(3).toColourspace('rgb16').png().toBuffer(),
    base(3).tiff().toBuffer(),
  ]).then((bufs) => bufs.map((b) => new Uint8Array(b)));
}

export function onnxSeeds(): Uint8Array[] {
  const io = (name: string) => ({ name, dataType: DataType.FLOAT, shape: ['batch', 3] as (number | string)[] });
  const common = { opsets: [{ domain: '', version: 17 }], producer: { name: 'fuzz', version: '1' } };
  const weight = (name: string, dims: number[]) => ({
    name,
    dims,
    dataType: DataType.FLOAT,
    raw: new Uint8Array(4 * dims.reduce((a, b) => a * b, 1)),
  });
  return [
    encodeModel({
      ...common,
      graphName: 'add',
      nodes: [{ op: 'Add', inputs: ['input', 'b'], outputs: ['logits'] }],
      initializers: [weight('b', [3])],
      inputs: [io('input')],
      outputs: [io('logits')],
    }),
    encodeModel({
      ...common,
      graphName: 'gemm',
      nodes: [
        { op: 'Gemm', inputs: ['input', 'w', 'b'], outputs: ['h'], attrs: { transB: 1, alpha: { float: 1 } } },
        { op: 'Relu', inputs: ['h'], outputs: ['logits'], name: 'relu' },
      ],
      initializers: [weight('w', [3, 3]), weight('b', [3])],
      inputs: [io('input')],
      outputs: [io('logits')],
      metadata: { 'flatten.model': 'fuzz' },
      doc: 'a two-node graph',
    }),
  ];
}
