import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FlattenError } from '../core/errors.js';
import type { StateDict } from '../core/tensor.js';
import { writeFileAtomic } from '../io/files.js';
import { readJsonFile } from '../io/json.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../io/safetensors.js';
import type { AdamW } from './optim.js';

/** Where a run keeps its files. */
export const RUN_FILES = {
  weights: 'last.safetensors',
  best: 'best.safetensors',
  state: 'state.json',
  metrics: 'metrics.jsonl',
};

/** Everything besides the weights that resuming needs. The RNG is fully given by (seed, epoch, step). */
export interface TrainState {
  format: 'flatten-train-state';
  version: 1;
  model: string;
  /** Registry kwargs overrides the model was built with (num_classes, attn_type, …). */
  kwargs: Record<string, unknown>;
  dataset: string;
  options: Record<string, unknown>;
  /** The epoch in progress (0-based) and how many of its batches are done. */
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
  rng: { seed: number; epoch: number; step: number };
  /** Running sums of the epoch in progress, so its train metrics survive an interruption. */
  partial: { lossSum: number; correct: number; seen: number; seconds: number };
  best: { top1: number; epoch: number } | null;
  optimizer: { step: number; m: Record<string, string>; v: Record<string, string> };
}

const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
function fromB64(s: string): Float32Array {
  const buf = Buffer.from(s, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

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
      const s = saved[name][k];
      const values = s === undefined ? undefined : fromB64(s);
      if (!values || values.length !== t.size)
        throw new FlattenError(
          'BAD_KEYS',
          `${source}: optimizer moment ${name} for '${k}' is ${values ? `of size ${values.length}, expected ${t.size}` : 'missing'}`,
        );
      t.assign(tf.tensor(values, t.shape));
    }
  }
  opt.step = saved.step;
}

/**
 * Writes weights, then the state naming their global step; each file is atomic (temp + rename).
 * The step stored in the weights' metadata lets a resume detect a crash between the two writes.
 */
export function saveCheckpoint(dir: string, weights: StateDict, state: TrainState): void {
  writeSafetensorsFile(join(dir, RUN_FILES.weights), weights, weightsMetadata(state));
  writeFileAtomic(join(dir, RUN_FILES.state), new TextEncoder().encode(JSON.stringify(state)));
}

export function weightsMetadata(state: Pick<TrainState, 'model' | 'kwargs' | 'globalStep'>): Record<string, string> {
  return {
    format: 'pt',
    'flatten.model': state.model,
    'flatten.kwargs': JSON.stringify(state.kwargs),
    'flatten.global_step': String(state.globalStep),
  };
}

export function loadCheckpoint(dir: string): { state: TrainState; weights: StateDict } {
  const statePath = join(dir, RUN_FILES.state);
  const weightsPath = join(dir, RUN_FILES.weights);
  if (!existsSync(statePath) || !existsSync(weightsPath))
    throw new FlattenError(
      'BAD_FILE',
      `--resume: no checkpoint in ${dir} (needs ${RUN_FILES.state} and ${RUN_FILES.weights})`,
    );
  const state = readJsonFile<TrainState>(statePath);
  if (state?.format !== 'flatten-train-state' || state.version !== 1)
    throw new FlattenError('BAD_FILE', `${statePath}: not a flatten training state (format/version)`);
  const { tensors, metadata } = readSafetensorsFile(weightsPath);
  if (metadata['flatten.global_step'] !== String(state.globalStep)) {
    throw new FlattenError(
      'BAD_FILE',
      `${weightsPath} is at step ${metadata['flatten.global_step']} but ${statePath} at step ${state.globalStep}; the run was interrupted between the two writes`,
    );
  }
  return { state, weights: tensors };
}
