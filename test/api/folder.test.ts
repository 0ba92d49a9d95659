import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportModelFolder, readModelFolder, type FolderConfig } from '../../src/api/folder.js';
import { createModel, FlattenError, pipeline } from '../../src/index.js';
import { OnnxSession } from '../../src/engines/onnx/session.js';
import { writeFolderAtomic } from '../../src/io/files.js';
import { rejectsNamed } from '../util.js';

const root = mkdtempSync(join(tmpdir(), 'flatten-folder-'));
const fm = join(root, 'fmnist');
const IMAGES = ['bag', 'sneaker', 'tshirt'].map((f) => `examples/images/${f}.png`);
const GRAPHS = ['onnx/model.onnx', 'onnx/model_fp16.onnx', 'onnx/model_quantized.onnx', 'onnx/model_q4.onnx'];

const named = (fn: () => unknown, code: string): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FlattenError);
    expect((e as FlattenError).code).toBe(code);
    expect((e as FlattenError).message).not.toMatch(/\n/);
    return (e as FlattenError).message;
  }
  throw new Error('expected a FlattenError');
};

/** A copy of the written folder with config.json (or another file) edited, for the bad-folder cases. */
function variant(name: string, edit: (dir: string) => void): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  for (const f of ['config.json', 'preprocessor_config.json', ...GRAPHS.slice(0, 1)])
    writeFileSync(join(dir, f), readFileSync(join(fm, f)));
  edit(dir);
  return dir;
}
const editJson = (dir: string, file: string, fn: (c: Record<string, unknown>) => void) => {
  const c = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
  fn(c);
  writeFileSync(join(dir, file), JSON.stringify(c));
};

beforeAll(async () => {
  await exportModelFolder({ name: 'flatten_deit_fmnist', out: fm, dtypes: ['fp32', 'fp16', 'q8', 'q4'] });
});

describe('flatten export --format folder', () => {
  it("writes transformers.js' layout: config.json, preprocessor_config.json and one graph per dtype", async () => {
    expect(readdirSync(fm).sort()).toEqual(['config.json', 'onnx', 'preprocessor_config.json']);
    expect(readdirSync(join(fm, 'onnx')).sort()).toEqual(GRAPHS.map((g) => g.slice(5)).sort());
    const config = JSON.parse(readFileSync(join(fm, 'config.json'), 'utf8')) as FolderConfig;
    expect(config.model_type).toBe('vit');
    expect(config.num_labels).toBe(10);
    expect(config.id2label['7']).toBe('Sneaker');
    expect(config.label2id?.Sneaker).toBe(7);
    expect(config.image_size).toBe(28);
    expect(config.flatten).toMatchObject({ family: 'deit', constructor: 'FLattenDeiT', img_size: 28, in_chans: 1 });
    expect(config.flatten?.weights).toBe('flatten_deit_fmnist.safetensors');
    const pre = JSON.parse(readFileSync(join(fm, 'preprocessor_config.json'), 'utf8'));
    // the registry's eval transform: a straight 28² bicubic resize, one channel, Fashion-MNIST statistics
    expect(pre).toMatchObject({ size: { height: 28, width: 28 }, do_center_crop: false, resample: 3 });
    expect(pre).toMatchObject({ image_mean: [0.286], image_std: [0.353], do_convert_rgb: false });
    const sizes: number[] = [];
    for (const g of GRAPHS) {
      const s = await OnnxSession.create(join(fm, g), g, { threads: 1 });
      expect(s.inputs.map((i) => i.name)).toEqual(['pixel_values']);
      expect(s.outputs).toEqual(['logits', 'pooler_output']);
      await s.release();
      sizes.push(readFileSync(join(fm, g)).length);
    }
    // fp16, q8 and q4 are each smaller than fp32
    expect(sizes.slice(1).every((n) => n < sizes[0])).toBe(true);
  });

  it("config.json's flatten block rebuilds the model, and the 224² ImageNet transform is resize 256 + crop 224", async () => {
    const { flatten } = JSON.parse(readFileSync(join(fm, 'config.json'), 'utf8')) as FolderConfig;
    const rebuilt = createModel(flatten!, { imgSize: flatten!.img_size });
    expect(rebuilt.model.numClasses).toBe(10);
    expect(rebuilt.preprocess.imgSize).toBe(28);
    const pvt = join(root, 'pvt');
    await exportModelFolder({ name: 'flatten_pvt_v2_b0', out: pvt, dtypes: ['q4'], check: false, seed: 1 });
    const f = readModelFolder(pvt);
    expect(f.dtype).toBe('q4'); // no fp32 file: config.json points transformers.js at the one it has
    expect(f.preprocess).toMatchObject({ imgSize: 224, crop: true, mean: [0.485, 0.456, 0.406] });
    const pre = JSON.parse(readFileSync(join(pvt, 'preprocessor_config.json'), 'utf8'));
    expect(pre).toMatchObject({ size: { height: 256, width: 256 }, crop_size: { height: 224, width: 224 } });
    expect(f.labels).toHaveLength(1000);
  });

  it('our pipeline runs the folder in every dtype with the top-1 of the model itself', async () => {
    const ours = await pipeline('image-classification', 'flatten_deit_fmnist', { topK: 1, threads: 1 });
    const want = (await ours(IMAGES)).map((t) => t[0].label);
    await ours.dispose();
    expect(want).toEqual(['Bag', 'Sneaker', 'T-shirt/top']);
    for (const dtype of ['fp32', 'fp16', 'q8', 'q4'] as const) {
      const p = await pipeline('image-classification', fm, { dtype, topK: 1, threads: 1 });
      expect(p.dtype).toBe(dtype);
      expect(p.source).toBe(join(fm, GRAPHS[['fp32', 'fp16', 'q8', 'q4'].indexOf(dtype)]));
      expect((await p(IMAGES)).map((t) => t[0].label)).toEqual(want);
      await p.dispose();
    }
    const features = await pipeline('image-feature-extraction', fm);
    expect((await features(IMAGES[0])).shape).toEqual([1, 64]);
    await features.dispose();
  });
});

describe('bad model folders and outputs', () => {
  it('refuses an --out folder that is not empty, unless overwrite; an empty one is used', async () => {
    const msg = await rejectsNamed(exportModelFolder({ name: 'flatten_deit_fmnist', out: fm }), 'BAD_ARGUMENT');
    expect(msg).toMatch(/--out .*fmnist: the folder is not empty \(pass --overwrite/);
    expect(readdirSync(join(fm, 'onnx'))).toHaveLength(4); // untouched
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await exportModelFolder({ name: 'flatten_deit_fmnist', out: empty, check: false });
    expect(readdirSync(join(empty, 'onnx'))).toEqual(['model.onnx']);
    await exportModelFolder({ name: 'flatten_deit_fmnist', out: empty, dtypes: ['q8'], overwrite: true, check: false });
    expect(readdirSync(join(empty, 'onnx'))).toEqual(['model_quantized.onnx']);
    expect(readdirSync(root).filter((e) => e.startsWith('.'))).toEqual([]); // no temporary folder left
  });

  it('an unknown dtype is named before anything is written', async () => {
    const out = join(root, 'never');
    const msg = await rejectsNamed(
      exportModelFolder({ name: 'flatten_deit_fmnist', out, dtypes: ['fp32', 'int3' as 'q8'] }),
      'BAD_CONFIG',
    );
    expect(msg).toMatch(/unknown dtype 'int3'/);
    expect(existsSync(out)).toBe(false);
  });

  it('writes a folder all or none', () => {
    const out = join(root, 'half');
    // the second file cannot be made (its folder would be the first file): nothing of the folder may remain
    const files = [
      { path: 'a', bytes: new Uint8Array([1]) },
      { path: 'a/b', bytes: new Uint8Array([2]) },
    ];
    expect(named(() => writeFolderAtomic(out, files), 'BAD_FILE')).toMatch(/half: cannot write the folder/);
    expect(existsSync(out)).toBe(false);
    // and an existing folder replaced with overwrite keeps its old contents when the new one fails
    mkdirSync(out);
    writeFileSync(join(out, 'keep'), 'old');
    named(() => writeFolderAtomic(out, files, { overwrite: true }), 'BAD_FILE');
    expect(readdirSync(out)).toEqual(['keep']);
    expect(readdirSync(root).filter((e) => e.startsWith('.'))).toEqual([]);
    expect(
      named(
        () => writeFolderAtomic(out, [{ path: '../x', bytes: new Uint8Array() }], { overwrite: true }),
        'BAD_ARGUMENT',
      ),
    ).toMatch(/inside it/);
  });

  it('names a folder whose config.json is missing or disagrees with itself or its files', async () => {
    const none = variant('no-config', (d) => rmSync(join(d, 'config.json')));
    expect(named(() => readModelFolder(none), 'BAD_FILE')).toMatch(/no-config: no config.json/);
    expect(await rejectsNamed(pipeline('image-classification', none), 'BAD_FILE')).toMatch(/no config.json/);
    const labels = variant('labels', (d) => editJson(d, 'config.json', (c) => (c.num_labels = 9)));
    expect(named(() => readModelFolder(labels), 'BAD_CONFIG')).toMatch(
      /labels.config\.json: id2label has 10 entries, but num_labels is 9/,
    );
    const inverse = variant('l2i', (d) =>
      editJson(d, 'config.json', (c) => ((c.label2id as Record<string, number>).Bag = 3)),
    );
    expect(named(() => readModelFolder(inverse), 'BAD_CONFIG')).toMatch(/label2id does not invert id2label/);
    const size = variant('size', (d) => editJson(d, 'config.json', (c) => (c.image_size = 32)));
    expect(named(() => readModelFolder(size), 'BAD_CONFIG')).toMatch(/image_size is 32, but preprocessor_config/);
    const broken = variant('broken', (d) => writeFileSync(join(d, 'config.json'), '{"model_type": '));
    expect(named(() => readModelFolder(broken), 'BAD_FILE')).toMatch(/broken.config\.json/);
    const crop = variant('crop', (d) =>
      editJson(d, 'preprocessor_config.json', (c) => {
        c.do_center_crop = true;
        c.crop_size = { height: 28, width: 28 };
      }),
    );
    expect(named(() => readModelFolder(crop), 'BAD_CONFIG')).toMatch(/size 28 with crop_size 28 is not our eval/);
    // the folder holds fp32 only
    const nopre = variant('no-pre', (d) => rmSync(join(d, 'preprocessor_config.json')));
    expect(named(() => readModelFolder(nopre), 'BAD_FILE')).toMatch(/no-pre.preprocessor_config\.json: missing/);
    const fp32 = variant('fp32-only', () => {});
    expect(named(() => readModelFolder(fp32, { dtype: 'q4' }), 'BAD_FILE')).toMatch(
      /no onnx\/model_q4\.onnx for dtype 'q4' \(the folder has: fp32\)/,
    );
    const channels = variant('channels', (d) =>
      editJson(d, 'preprocessor_config.json', (c) => {
        c.image_mean = [0.5, 0.5, 0.5];
        c.image_std = [0.5, 0.5, 0.5];
      }),
    );
    editJson(channels, 'config.json', (c) => delete c.num_channels);
    expect(await rejectsNamed(pipeline('image-classification', channels), 'BAD_CONFIG')).toMatch(
      /model\.onnx takes 1-channel 28² images, but .*channels's preprocessor_config\.json makes 3-channel/,
    );
    expect(await rejectsNamed(pipeline('image-classification', fm, { checkpoint: 'x.pth' }), 'BAD_ARGUMENT')).toMatch(
      /a checkpoint does not apply/,
    );
    expect(await rejectsNamed(pipeline('image-classification', fm, { engine: 'tfjs' }), 'BAD_ARGUMENT')).toMatch(
      /runs on the onnx engine/,
    );
  });
});
