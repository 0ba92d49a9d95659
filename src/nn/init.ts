import { float32, sizeOf, type TensorData } from '../core/tensor.js';
import { mulberry32 } from '../core/rng.js';
import type { ParamSpec, ParamTable } from './module.js';

/** Standard normal via Box–Muller. */
export function gaussian(rand: () => number): () => number {
  return () => {
    const u = 1 - rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

function initOne(spec: ParamSpec, normal: () => number): TensorData {
  const out = float32(spec.shape);
  const v = out.data as Float32Array;
  const init = spec.init;
  switch (init.kind) {
    case 'zeros':
      break;
    case 'ones':
      v.fill(1);
      break;
    case 'normal':
      for (let i = 0; i < v.length; i++) v[i] = normal() * init.std;
      break;
    case 'truncNormal':
      // timm's trunc_normal_ cuts at ±2 (absolute), i.e. ±100σ at σ = 0.02: resample the rare outliers
      for (let i = 0; i < v.length; i++) {
        let x = normal() * init.std;
        while (Math.abs(x) > 2) x = normal() * init.std;
        v[i] = x;
      }
      break;
  }
  return out;
}

/** Deterministic weights for every parameter (buffers take their computed values). */
export function initWeights(table: ParamTable, seed = 0): Map<string, TensorData> {
  const normal = gaussian(mulberry32(seed));
  const out = new Map<string, TensorData>();
  for (const spec of table.specs.values()) {
    out.set(spec.path, spec.buffer ?? initOne(spec, normal));
    if (!spec.buffer && sizeOf(spec.shape) !== out.get(spec.path)!.data.length)
      throw new Error(`init size mismatch at ${spec.path}`);
  }
  return out;
}
