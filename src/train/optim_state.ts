import * as tf from '@tensorflow/tfjs';
import { FlattenError } from '../core/errors.js';
import type { AdamW } from './optim.js';
import type { TrainState } from './state.js';

/**
 * The optimizer's moments in a run's state.json (base64 float32, keyed by parameter path), in a module of their
 * own so that the state's types do not pull tfjs into the declarations of the public API.
 */
const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const fromB64 = (s: string) => Buffer.from(s, 'base64');

export async function optimizerState(opt: AdamW): Promise<TrainState['optimizer']> {
  const m: Record<string, string> = {};
  const v: Record<string, string> = {};
  for (const [k, t] of opt.m) m[k] = b64((await t.data()) as Float32Array);
  for (const [k, t] of opt.v) v[k] = b64((await t.data()) as Float32Array);
  return { step: opt.step, m, v };
}

/** Puts saved moments back; every moment must exist and have the parameter's size. */
export function restoreOptimizer(opt: AdamW, saved: TrainState['optimizer'], source: string): void {
  for (const [name, moments] of [
    ['m', opt.m],
    ['v', opt.v],
  ] as const) {
    for (const [k, t] of moments) {
      const s = Object.hasOwn(saved[name], k) ? saved[name][k] : undefined;
      const bytes = s === undefined ? undefined : fromB64(s);
      // the byte count is checked first: a Float32Array over a length that is not a multiple of 4 throws
      if (!bytes || bytes.byteLength !== 4 * t.size)
        throw new FlattenError(
          'BAD_KEYS',
          `${source}: optimizer moment ${name} for '${k}' is ${bytes ? `${bytes.byteLength} bytes, expected ${4 * t.size}` : 'missing'}`,
        );
      t.assign(
        tf.tensor(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), t.shape),
      );
    }
  }
  opt.step = saved.step;
}
