import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { gradName, traceTrainStep } from '../../src/engines/onnx/grad/step.js';
import { OnnxSession } from '../../src/engines/onnx/session.js';
import { buildNamed } from '../../src/models/build.js';
import { initWeights } from '../../src/nn/init.js';
import { smoothedTargets } from '../../src/train/step_inputs.js';
import { relativeError } from '../util.js';

/**
 * The training-step graph is plain opset 17: onnxruntime-web's wasm build (what a web page runs; here in Node)
 * loads it, computes the gradients onnxruntime-node computes (≤ 1e-4 relative: other kernels, other summation
 * orders), and SGD on them lowers the loss. (A Chromium page running it is still to be written.)
 */
describe('training-step graph on onnxruntime-web (wasm)', () => {
  it('flatten_deit_fmnist: the same gradients as onnxruntime-node, and 5 SGD steps lower the loss', async () => {
    const model = buildNamed('flatten_deit_fmnist', { drop_path_rate: 0 });
    const B = 8;
    const params = new Map<string, number[]>();
    const buffers = new Map();
    for (const s of model.table.specs.values()) {
      if (s.buffer) buffers.set(s.path, s.buffer);
      else params.set(s.path, s.shape);
    }
    const step = traceTrainStep(
      { params, buffers, input: [B, 1, 28, 28], classes: 10 },
      (ctx, x) => model.forward(ctx, x).logits,
    );
    ort.env.wasm.numThreads = 1;
    const web = await ort.InferenceSession.create(step.bytes, { executionProviders: ['wasm'] });
    const node = await OnnxSession.create(step.bytes, 'training step', { threads: 1 });
    const r = new Rng(1);
    const x = Float32Array.from({ length: B * 784 }, () => r.next());
    const target = smoothedTargets(
      Int32Array.from({ length: B }, (_, i) => i % 10),
      10,
      0.1,
    );
    const w = initWeights(model.table, 0);
    const values = new Map([...params.keys()].map((k) => [k, Float32Array.from(w.get(k)!.data as Float32Array)]));
    const losses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const feeds: Record<string, ort.Tensor> = {
        input: new ort.Tensor('float32', x, [B, 1, 28, 28]),
        target: new ort.Tensor('float32', target, [B, 10]),
      };
      for (const [k, shape] of params) feeds[k] = new ort.Tensor('float32', values.get(k)!, shape);
      const out = await web.run(feeds);
      losses.push((out.loss.data as Float32Array)[0]);
      if (i === 0) {
        const ref = await node.run(
          Object.fromEntries(
            Object.entries(feeds).map(([k, t]) => [
              k,
              { dtype: 'float32' as const, shape: [...t.dims], data: t.data as Float32Array },
            ]),
          ),
        );
        for (const k of step.grads)
          expect(
            relativeError(out[gradName(k)].data as Float32Array, ref[gradName(k)].data as Float32Array),
            k,
          ).toBeLessThan(1e-4);
      }
      for (const k of step.grads) {
        const [v, d] = [values.get(k)!, out[gradName(k)].data as Float32Array];
        for (let j = 0; j < v.length; j++) v[j] -= 0.05 * d[j];
      }
    }
    expect(losses[4]).toBeLessThan(losses[0] - 0.02);
    await web.release();
    await node.release();
  });
});
