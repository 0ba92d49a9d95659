/**
 * The web pipeline's `fmaWasm` in Node on onnxruntime-web's wasm build (its own file, so that it starts its own
 * onnxruntime-web instance): with relaxed SIMD the fused .wasm runs and gives onnxruntime-node's logits; without,
 * the stock one runs and `fma` says so.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from '../../src/api/export.js';
import { createModel } from '../../src/api/model.js';
import { OnnxSession } from '../../src/engines/onnx/session.js';
import { buildFmaWasm, pipeline, relaxedSimdSupported } from '../../src/web/index.js';
import { rejectsNamed } from '../util.js';

const NAME = 'flatten_deit_fmnist';

describe('web pipeline on the fused multiply-add .wasm', () => {
  it('runs it where relaxed SIMD is on, with the logits of onnxruntime-node', async () => {
    const stock = new Uint8Array(
      readFileSync(
        join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), 'ort-wasm-simd-threaded.wasm'),
      ),
    );
    // off in Node 20 by default (a flag is per process: another test file may have set it already)
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    expect(relaxedSimdSupported()).toBe(true);
    const m = createModel(NAME);
    const graph = exportOnnx({ name: NAME, checkpoint: m.weights }).bytes;
    const x = Float32Array.from({ length: 28 * 28 }, (_, i) => ((i * 37) % 101) / 101);
    const pixels = {
      data: Uint8Array.from(x, (v) => Math.round(v * 255)),
      width: 28,
      height: 28,
      channels: 1 as const,
    };
    const ort = await import('onnxruntime-web/wasm');
    // what is not a wasm module is named, and leaves the runtime unstarted for the next try
    expect(
      await rejectsNamed(
        pipeline('image-classification', graph, { ort, threads: 1, fmaWasm: Uint8Array.of(1, 2, 3, 4) }),
        'BAD_FILE',
      ),
    ).toBe('fmaWasm: not a WebAssembly module');
    // two pipelines made at once download the fused .wasm once: the runtime starts once
    const fused = buildFmaWasm(stock).bytes;
    let downloads = 0;
    const fetch = (async (url: string) => {
      downloads++;
      return new Response(url.endsWith('.fma.wasm') ? (fused as Uint8Array<ArrayBuffer>) : null, {
        status: url.endsWith('.fma.wasm') ? 200 : 404,
      });
    }) as typeof globalThis.fetch;
    const options = { ort, threads: 1, fmaWasm: 'https://example.test/ort.fma.wasm', fetch };
    const [web, other] = await Promise.all([
      pipeline('image-classification', graph, options),
      pipeline('image-classification', graph, options),
    ]);
    expect(downloads).toBe(1);
    expect(web.fma && other.fma).toBe(true);
    await other.dispose();
    const logits = await web.logits(pixels);
    // the same pixels through onnxruntime-node
    const node = await OnnxSession.create(graph, NAME, { threads: 1 });
    const { prepareDecoded, toBatch } = await import('../../src/io/image_pixels.js');
    const { ReadBudget } = await import('../../src/io/budget.js');
    const img = prepareDecoded(pixels, m.preprocess, 1, 'image', new ReadBudget(1e8));
    const want = (await node.run({ pixel_values: toBatch([img], m.preprocess) })).logits.data as Float32Array;
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(logits[i] - want[i]));
    expect(diff).toBeLessThan(1e-4);
    await node.release();
    await web.dispose();
  }, 60_000);
});
