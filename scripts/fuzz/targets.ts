/**
 * One target per format: its seeds, how to mutate one (byte edits everywhere, and edits below the
 * layer that would refuse them anyway: a pickle inside a re-zipped .pth so the CRC still matches, a
 * header whose length field is rewritten), and how to read it with a counting budget.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import type { Rng } from '../../src/core/rng.js';
import type { ReadBudget } from '../../src/io/budget.js';
import { crc32 } from '../../src/io/crc32.js';
import { readFileBytes } from '../../src/io/files.js';
import { prepareImage } from '../../src/io/image.js';
import { readJsonFile } from '../../src/io/json.js';
import { readNpy } from '../../src/io/npy.js';
import { findStateDict, readPth } from '../../src/io/pth.js';
import { readSafetensors } from '../../src/io/safetensors_format.js';
import { readZip } from '../../src/io/zip.js';
import { checkOnnxModel } from '../../src/engines/onnx/model_check.js';
import { buildModel, buildNamed } from '../../src/models/build.js';
import type { ModelSpec } from '../../src/models/build.js';
import type { ParamTable } from '../../src/nn/module.js';
import { loadWeights, readStateDict } from '../../src/nn/checkpoint.js';
import { mutateBytes, mutatePickle, mutateText } from './mutate.js';
import { zipStored } from './zip_write.js';
import { GOLDEN, goldenCases, imageSeeds, npySeeds, onnxSeeds, pthSeeds, safetensorsSeeds } from './seeds.js';

export interface Target {
  format: string;
  seeds: Uint8Array[];
  mutate(seed: Uint8Array, rng: Rng): Uint8Array;
  /** Read the input; what it returns is checked against what the budget was charged. */
  run(input: Uint8Array, budget: ReadBudget, seedIndex: number): Promise<unknown>;
}

/** Entries of each seed zip, read once (null for the legacy, non-zip fixture). */
const seedEntries = new WeakMap<Uint8Array, [string, Uint8Array][] | null>();
function entriesOf(seed: Uint8Array): [string, Uint8Array][] | null {
  if (!seedEntries.has(seed)) {
    let entries: [string, Uint8Array][] | null = null;
    try {
      const zip = readZip(seed, 'seed');
      entries = [...zip.entries.keys()].map((n) => [n, zip.read(n)]);
    } catch {
      // not a zip: only byte edits apply
    }
    seedEntries.set(seed, entries);
  }
  return seedEntries.get(seed)!;
}

/** Re-zip a .pth after editing one of its entries, so the edit reaches the pickle or a storage past the CRC check. */
function mutatePth(seed: Uint8Array, rng: Rng): Uint8Array {
  const entries = entriesOf(seed);
  if (!entries || rng.int(4) === 0) return mutateBytes(seed, rng);
  const files = entries.slice();
  const pkl = files.findIndex(([n]) => n.endsWith('data.pkl'));
  const r = rng.int(10);
  if (r < 7) files[pkl] = [files[pkl][0], mutatePickle(files[pkl][1], rng)];
  else if (r < 9) {
    const i = rng.int(files.length);
    files[i] = [files[i][0], mutateBytes(files[i][1], rng)];
  } else files.push([`other/${files[pkl][0]}`, files[pkl][1]]); // a second data.pkl
  // deflated entries too, where the seed is small enough for fflate to re-compress cheaply
  if (seed.length < 100_000 && rng.int(4) === 0)
    return zipSync(Object.fromEntries(files.map(([n, b]) => [n, [b, { level: 6 }]])));
  return zipStored(files);
}

/** Edit the text of a length-prefixed header and write the new length, so the reader parses the edit. */
function mutateHeader(seed: Uint8Array, rng: Rng, at: number, lengthBytes: 2 | 4 | 8): Uint8Array {
  const view = new DataView(seed.buffer, seed.byteOffset, seed.byteLength);
  const len =
    lengthBytes === 2
      ? view.getUint16(at, true)
      : lengthBytes === 4
        ? view.getUint32(at, true)
        : Number(view.getBigUint64(at, true));
  const start = at + lengthBytes;
  const text = new TextDecoder('latin1').decode(seed.subarray(start, start + len));
  const edited = Uint8Array.from(mutateText(text, rng), (c) => c.charCodeAt(0) & 0xff);
  const rest = seed.subarray(start + len);
  const out = new Uint8Array(start + edited.length + rest.length);
  out.set(seed.subarray(0, at));
  const ov = new DataView(out.buffer);
  if (lengthBytes === 2) ov.setUint16(at, Math.min(edited.length, 0xffff), true);
  else if (lengthBytes === 4) ov.setUint32(at, edited.length, true);
  else ov.setBigUint64(at, BigInt(edited.length), true);
  out.set(edited, start);
  out.set(rest, start + edited.length);
  return out;
}

function mutateNpy(seed: Uint8Array, rng: Rng): Uint8Array {
  if (rng.int(2) === 0) return mutateBytes(seed, rng);
  return mutateHeader(seed, rng, 8, seed[6] === 1 ? 2 : 4);
}

function mutateSafetensors(seed: Uint8Array, rng: Rng): Uint8Array {
  if (rng.int(2) === 0) return mutateBytes(seed, rng);
  return mutateHeader(seed, rng, 0, 8);
}

/** PNG: besides byte edits, claim other dimensions in IHDR with a correct CRC, so the decoder believes them. */
function mutateImage(seed: Uint8Array, rng: Rng): Uint8Array {
  const isPng = seed[1] === 0x50 && seed[2] === 0x4e && seed[3] === 0x47;
  if (!isPng || rng.int(3)) return mutateBytes(seed, rng);
  const out = new Uint8Array(seed);
  const view = new DataView(out.buffer);
  const sizes = [0, 1, 30000, 65535, 1 << 20, 0x7fffffff];
  view.setUint32(16, sizes[rng.int(sizes.length)]); // IHDR width
  view.setUint32(20, sizes[rng.int(sizes.length)]); // IHDR height
  view.setUint32(29, crc32(out.subarray(12, 29)));
  return out;
}

const PREPROCESS = { imgSize: 28, crop: true, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };

/** Checkpoints: each seed with the model it belongs to, loaded the way `--checkpoint` loads it. */
function checkpointSeeds(): { bytes: Uint8Array; ext: string; table: ParamTable }[] {
  const fmnist = buildNamed('flatten_deit_fmnist').table;
  const seeds = [
    {
      bytes: readFileBytes(fileURLToPath(new URL('../../weights/flatten_deit_fmnist.safetensors', import.meta.url))),
      ext: '.safetensors',
      table: fmnist,
    },
  ];
  for (const d of goldenCases('model')) {
    const spec = readJsonFile<ModelSpec>(`${GOLDEN}${d}/config.json`);
    seeds.push({ bytes: readFileBytes(`${GOLDEN}${d}/checkpoint.pth`), ext: '.pth', table: buildModel(spec).table });
  }
  return seeds;
}

export async function makeTargets(): Promise<Target[]> {
  const ckpt = checkpointSeeds();
  const dir = mkdtempSync(join(tmpdir(), 'flatten-fuzz-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return [
    {
      format: 'pth',
      seeds: pthSeeds(),
      mutate: mutatePth,
      run: async (b, budget) => findStateDict(readPth(b, 'fuzz.pth', { budget }), 'fuzz.pth'),
    },
    {
      format: 'npy',
      seeds: npySeeds(),
      mutate: mutateNpy,
      run: async (b, budget) => readNpy(b, 'fuzz.npy', { budget }),
    },
    {
      format: 'safetensors',
      seeds: safetensorsSeeds(),
      mutate: mutateSafetensors,
      run: async (b, budget) => readSafetensors(b, 'fuzz.safetensors', { budget }),
    },
    {
      format: 'image',
      seeds: await imageSeeds(),
      mutate: mutateImage,
      run: (b, budget) => prepareImage(b, PREPROCESS, 3, { name: 'fuzz.png', budget }),
    },
    {
      format: 'checkpoint',
      seeds: ckpt.map((c) => c.bytes),
      mutate: (seed, rng) => (seed[0] === 0x50 ? mutatePth(seed, rng) : mutateSafetensors(seed, rng)),
      run: async (b, budget, i) => {
        const path = join(dir, `fuzz${ckpt[i].ext}`);
        writeFileSync(path, b);
        const sd = readStateDict(path, { budget });
        loadWeights(ckpt[i].table, sd);
        return sd;
      },
    },
    {
      format: 'onnx',
      seeds: onnxSeeds(),
      mutate: mutateBytes,
      run: async (b) => checkOnnxModel(b, 'fuzz.onnx'),
    },
  ];
}
