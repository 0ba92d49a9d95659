import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOnnx, runExported } from '../../src/api/export.js';
import { runCase, type CaseConfig } from '../../src/api/forward.js';
import { FlattenError } from '../../src/core/errors.js';
import { readJsonFile } from '../../src/io/json.js';
import type { OnnxSession } from '../../src/engines/onnx/session.js';
import { GOLDEN_DIR } from '../golden.js';
import { exportGolden, tmp } from './helpers.js';

/** Resolves to the FlattenError a call throws, asserting it is one line with the given code. */
async function named(p: Promise<unknown>, code: string): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FlattenError);
  expect((e as FlattenError).code).toBe(code);
  expect((e as FlattenError).message).not.toContain('\n');
  return (e as FlattenError).message;
}

const images = (shape: number[]) => ({
  dtype: 'float32' as const,
  shape,
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
});

describe('bad input to the onnx engine gets a named one-line error', () => {
  let dir: string;
  let session: OnnxSession;
  let file: string;
  beforeAll(async () => {
    dir = tmp();
    file = exportGolden('swin_llss', dir).file;
    session = await loadOnnx(file, { threads: 1 });
  });
  afterAll(async () => {
    await session.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an image of another resolution names the exported resolution and how to change it', async () => {
    const msg = await named(runExported(session, images([1, 3, 192, 192])), 'BAD_SHAPE');
    expect(msg).toContain(file);
    expect(msg).toContain('(1, 3, 192, 192)');
    expect(msg).toContain('(batch, 3, 224, 224)');
    expect(msg).toContain('--resolution 192');
  });

  it('a wrong channel count or rank is BAD_SHAPE', async () => {
    await named(runExported(session, images([1, 1, 224, 224])), 'BAD_SHAPE');
    await named(runExported(session, images([3, 224, 224])), 'BAD_SHAPE');
  });

  it('a file that is not ONNX, or is missing, is BAD_FILE naming the file', async () => {
    const notOnnx = join(dir, 'config.onnx');
    writeFileSync(notOnnx, JSON.stringify({ hello: 'world' }));
    expect(await named(loadOnnx(notOnnx), 'BAD_FILE')).toContain(notOnnx);
    const truncated = join(dir, 'truncated.onnx');
    writeFileSync(truncated, readFileSync(file).subarray(0, 5000));
    expect(await named(loadOnnx(truncated), 'BAD_FILE')).toContain(truncated);
    expect(await named(loadOnnx(join(dir, 'missing.onnx')), 'BAD_FILE')).toContain('missing.onnx');
  });

  it('an unknown engine name lists the engines', async () => {
    const config = readJsonFile<CaseConfig>(`${GOLDEN_DIR}swin_llss/config.json`);
    const msg = await named(
      runCase(config, undefined, images([1, 3, 224, 224]), { engine: 'tensorrt' }),
      'BAD_ARGUMENT',
    );
    expect(msg).toContain("'tensorrt'");
    expect(msg).toContain('onnx');
  });

  it('forward --engine onnx rejects a wrong input size before tracing', async () => {
    const config = readJsonFile<CaseConfig>(`${GOLDEN_DIR}swin_llss/config.json`);
    await named(runCase(config, undefined, images([1, 3, 160, 160]), { engine: 'onnx' }), 'BAD_SHAPE');
  });
});
