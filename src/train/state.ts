import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { FlattenError } from '../core/errors.js';
import type { StateDict } from '../core/tensor.js';
import { readFileBytes, regularFileExists, removeLeftoverTemps, renameFile, writeFileAtomic } from '../io/files.js';
import { readJsonFile } from '../io/json.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { checkTrainState } from './state_check.js';

/** Where a run keeps its files. */
export const RUN_FILES = {
  weights: 'last.safetensors',
  best: 'best.safetensors',
  state: 'state.json',
  /** The state of a save in progress, complete before the weights it describes replace last.safetensors. */
  nextState: 'state.next.json',
  metrics: 'metrics.jsonl',
};

/** Everything besides the weights that resuming needs. The RNG is fully given by (seed, epoch, step). */
export interface TrainState {
  format: 'flatten-train-state';
  /** 2 adds weightsSha256; a version 1 state is still read, paired with its weights by global step. */
  version: 1 | 2;
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
  /** Digest of the last.safetensors bytes this state belongs to. */
  weightsSha256?: string;
}

/**
 * One checkpoint is last.safetensors plus the state holding its digest, and replacing last.safetensors
 * is the one step that switches from the old checkpoint to the new:
 *   1. the new state is written to state.next.json (atomic: temp + rename);
 *   2. the new weights replace last.safetensors (atomic): the commit;
 *   3. state.next.json is renamed to state.json.
 * A kill before 2 leaves the old weights with their state.json; a kill between 2 and 3 leaves the new
 * weights with their state in state.next.json. loadCheckpoint takes the state that matches the weights.
 */
export function saveCheckpoint(dir: string, weights: StateDict, state: Omit<TrainState, 'weightsSha256'>): void {
  const bytes = writeSafetensors(weights, weightsMetadata(state));
  const next = join(dir, RUN_FILES.nextState);
  const full: TrainState = { ...state, weightsSha256: sha256(bytes) };
  writeFileAtomic(next, new TextEncoder().encode(JSON.stringify(full)));
  writeFileAtomic(join(dir, RUN_FILES.weights), bytes);
  renameFile(next, join(dir, RUN_FILES.state));
}

export function weightsMetadata(state: Pick<TrainState, 'model' | 'kwargs' | 'globalStep'>): Record<string, string> {
  return {
    format: 'pt',
    'flatten.model': state.model,
    'flatten.kwargs': JSON.stringify(state.kwargs),
    'flatten.global_step': String(state.globalStep),
  };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * The checkpoint in run folder `dir` (see saveCheckpoint). A save killed after its commit is finished
 * here (its state.next.json becomes state.json): the next save would otherwise overwrite state.next.json
 * while state.json still describes older weights, leaving no state for last.safetensors.
 */
export function loadCheckpoint(dir: string): { state: TrainState; weights: StateDict } {
  const weightsPath = join(dir, RUN_FILES.weights);
  const [current, next] = [RUN_FILES.state, RUN_FILES.nextState].map((f) => join(dir, f));
  const statePaths = [current, next].filter(regularFileExists);
  if (!regularFileExists(weightsPath) || statePaths.length === 0)
    throw new FlattenError(
      'BAD_FILE',
      `--resume: no checkpoint in ${dir} (needs ${RUN_FILES.state} and ${RUN_FILES.weights})`,
    );
  const bytes = readFileBytes(weightsPath);
  const { tensors, metadata } = readSafetensors(bytes, weightsPath);
  const digest = sha256(bytes);
  for (const statePath of statePaths) {
    const state = checkTrainState(readJsonFile(statePath), statePath);
    const matches =
      state.weightsSha256 === undefined
        ? metadata['flatten.global_step'] === String(state.globalStep)
        : state.weightsSha256 === digest;
    if (!matches) continue;
    if (statePath === next) renameFile(next, current);
    return { state, weights: tensors };
  }
  throw new FlattenError(
    'BAD_FILE',
    `${weightsPath} belongs to no training state in ${dir} (${statePaths.map((p) => basename(p)).join(', ')} describe other weights); the files were changed or mixed by hand`,
  );
}

/**
 * Readies run folder `dir` for a run that starts at global step `step`: deletes the temporary files of
 * a killed write, and the metrics lines of epochs past `step`. The metrics line of an epoch is appended
 * before its checkpoint, so a kill between the two would otherwise list that epoch twice; a kill inside
 * the append leaves a torn last line, dropped here too. A fresh run (step 0) keeps no old metrics.
 */
export function tidyRunDir(dir: string, step: number): void {
  removeLeftoverTemps(dir, Object.values(RUN_FILES));
  const path = join(dir, RUN_FILES.metrics);
  if (!regularFileExists(path)) return;
  const text = new TextDecoder().decode(readFileBytes(path));
  const kept = text
    .split('\n')
    .filter((line) => metricsStep(line) <= step)
    .map((line) => `${line}\n`)
    .join('');
  if (kept !== text) writeFileAtomic(path, new TextEncoder().encode(kept));
}

/** The global step a metrics line was written at; a line that is not one (torn, empty) counts as past any step. */
function metricsStep(line: string): number {
  try {
    const step = (JSON.parse(line) as { step?: unknown })?.step;
    return typeof step === 'number' ? step : Infinity;
  } catch {
    return Infinity;
  }
}
