import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/api/convert.js';
import { FlattenError } from '../../src/core/errors.js';
import { findStateDict, readPthFile, readSafetensorsFile } from '../../src/io/index.js';
import { flatten } from './cli.js';

const dir = mkdtempSync(join(tmpdir(), 'flatten-convert-'));
const WEIGHTS = 'weights/flatten_deit_fmnist.safetensors';

const refused = (fn: () => unknown, pattern: RegExp) => {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FlattenError);
  expect((err as FlattenError).message).toMatch(pattern);
  expect((err as FlattenError).message).not.toMatch(/\n/);
};

describe('flatten convert', () => {
  it('.safetensors → .pth → .safetensors keeps every key and tensor; the .pth holds {model: state_dict}', () => {
    const pth = join(dir, 'fm.pth');
    const r = flatten('convert', WEIGHTS, pth);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^wrote .*fm\.pth: 72 tensors, 155402 values \(safetensors → pth\)\n$/);
    const back = join(dir, 'fm.safetensors');
    convertCheckpoint({ input: pth, output: back });
    const a = readSafetensorsFile(WEIGHTS).tensors;
    const b = readSafetensorsFile(back);
    expect(b.metadata).toEqual({ format: 'pt' });
    expect([...b.tensors.keys()]).toEqual([...a.keys()]);
    for (const [k, t] of a) expect(b.tensors.get(k), k).toEqual(t);
    expect([...(readPthFile(pth) as Map<string, unknown>).keys()]).toEqual(['model']);
    expect(findStateDict(readPthFile(pth)).size).toBe(72);
  });

  it('refuses an unknown extension, the input as output, an existing output and an unreadable input', () => {
    refused(
      () => convertCheckpoint({ input: WEIGHTS, output: join(dir, 'x.ckpt') }),
      /output .*x\.ckpt: unknown extension; use \.pth, \.pt or \.safetensors/,
    );
    refused(
      () => convertCheckpoint({ input: join(dir, 'a.bin'), output: join(dir, 'x.pth') }),
      /input .*a\.bin: unknown extension/,
    );
    refused(() => convertCheckpoint({ input: WEIGHTS, output: `./${WEIGHTS}` }), /the output is the input/);
    const existing = join(dir, 'existing.pth');
    writeFileSync(existing, 'keep');
    refused(() => convertCheckpoint({ input: WEIGHTS, output: existing }), /existing\.pth: exists \(pass --overwrite/);
    expect(readFileSync(existing, 'utf8')).toBe('keep');
    convertCheckpoint({ input: WEIGHTS, output: existing, overwrite: true });
    expect(findStateDict(readPthFile(existing)).size).toBe(72);
    refused(
      () => convertCheckpoint({ input: join(dir, 'missing.pth'), output: join(dir, 'y.safetensors') }),
      /missing\.pth: cannot read file \(no such file/,
    );
    const junk = join(dir, 'junk.pth');
    writeFileSync(junk, 'not a zip');
    refused(
      () => convertCheckpoint({ input: junk, output: join(dir, 'z.safetensors') }),
      /junk\.pth: not a PyTorch zip checkpoint/,
    );
    expect(existsSync(join(dir, 'y.safetensors')) || existsSync(join(dir, 'z.safetensors'))).toBe(false);
  });
});
