import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { FlattenError } from '../../src/core/errors.js';
import { float32 } from '../../src/core/tensor.js';
import { loadCheckpoint, RUN_FILES, saveCheckpoint, tidyRunDir, type TrainState } from '../../src/train/state.js';
import { tmp } from './helpers.js';

/**
 * A hard kill stops a save after any of its file operations: `killAfter` lets that many of them
 * through, then throws from the next one as if the process had died there (leaving its temp file).
 */
const kill = vi.hoisted(() => ({ after: Infinity }));
vi.mock(import('../../src/io/files.js'), async (original) => {
  const files = await original();
  const guarded =
    <A extends unknown[]>(op: (...args: A) => void) =>
    (...args: A) => {
      if (kill.after-- <= 0) {
        writeFileSync(join(String(args[0]), '..', `.${RUN_FILES.weights}.1.0badf00d.tmp`), 'half a file');
        throw new Error('killed');
      }
      op(...args);
    };
  return { ...files, writeFileAtomic: guarded(files.writeFileAtomic), renameFile: guarded(files.renameFile) };
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function runDir(): string {
  const d = tmp('ckpt');
  dirs.push(d);
  return d;
}

/** A checkpoint whose weights and state both encode `step`, so a mixed pair is visible. */
function checkpointAt(step: number): [Map<string, ReturnType<typeof float32>>, Omit<TrainState, 'weightsSha256'>] {
  const weights = new Map([['w', float32([2], Float32Array.of(step, -step))]]);
  const state: Omit<TrainState, 'weightsSha256'> = {
    format: 'flatten-train-state',
    version: 2,
    model: 'flatten_deit_fmnist',
    kwargs: {},
    dataset: 'fashion-mnist',
    options: {
      model: 'flatten_deit_fmnist',
      dataset: 'fashion-mnist',
      kwargs: {},
      epochs: 9,
      batchSize: 8,
      lr: 1e-3,
      minLr: 0,
      warmupEpochs: 0,
      weightDecay: 0,
      labelSmoothing: 0,
      clipGrad: 0,
      seed: 0,
      evalEvery: 1,
      evalBatchSize: 8,
    },
    epoch: step,
    stepInEpoch: 0,
    globalStep: step,
    rng: { seed: 0, epoch: step, step: 0 },
    partial: { lossSum: 0, correct: 0, seen: 0, seconds: 0 },
    best: null,
    optimizer: { step, m: {}, v: {} },
  };
  return [weights, state];
}

/** saveCheckpoint at `step`, killed after `ops` of its three file operations. */
function killedSave(dir: string, step: number, ops: number): void {
  kill.after = ops;
  try {
    expect(() => saveCheckpoint(dir, ...checkpointAt(step)), `killed after ${ops} operations`).toThrow('killed');
  } finally {
    kill.after = Infinity;
  }
}

function expectConsistent(dir: string): number {
  const { state, weights } = loadCheckpoint(dir);
  expect(Array.from(weights.get('w')!.data as Float32Array)).toEqual([state.globalStep, -state.globalStep]);
  return state.globalStep;
}

describe('a checkpoint is one atomic unit', () => {
  it('a save killed after any of its file operations leaves the old or the new checkpoint, never a mix', () => {
    for (let ops = 0; ops < 3; ops++) {
      const dir = runDir();
      saveCheckpoint(dir, ...checkpointAt(1));
      killedSave(dir, 2, ops);
      expect(expectConsistent(dir)).toBe(ops < 2 ? 1 : 2); // the weights' rename is the commit
      // the resumed run saves again and is killed again: no state may be lost in between
      for (let again = 0; again < 3; again++) {
        killedSave(dir, 3, again);
        expect([1, 2, 3]).toContain(expectConsistent(dir));
      }
      saveCheckpoint(dir, ...checkpointAt(4));
      expect(expectConsistent(dir)).toBe(4);
    }
  });

  it('weights and states that do not belong together are refused by name', () => {
    const a = runDir();
    const b = runDir();
    saveCheckpoint(a, ...checkpointAt(1));
    saveCheckpoint(b, ...checkpointAt(1));
    const [, state] = checkpointAt(1);
    // the same step but other weights: the digest, not the step, pairs them
    saveCheckpoint(b, new Map([['w', float32([2], Float32Array.of(7, 7))]]), state);
    writeFileSync(join(a, RUN_FILES.weights), readFileSync(join(b, RUN_FILES.weights)));
    expect(() => loadCheckpoint(a)).toThrow(/last\.safetensors belongs to no training state in .*state\.json/);
  });

  it('a version 1 state (no digest) is still paired with its weights by global step', () => {
    const dir = runDir();
    saveCheckpoint(dir, ...checkpointAt(5));
    const path = join(dir, RUN_FILES.state);
    const { weightsSha256, ...v1 } = JSON.parse(readFileSync(path, 'utf8'));
    expect(weightsSha256).toMatch(/^[0-9a-f]{64}$/);
    writeFileSync(path, JSON.stringify({ ...v1, version: 1 }));
    expect(expectConsistent(dir)).toBe(5);
    writeFileSync(path, JSON.stringify({ ...v1, version: 1, globalStep: 6 }));
    expect(() => loadCheckpoint(dir)).toThrow(/belongs to no training state/);
  });

  it('a run starting at a step keeps the metrics up to it and drops torn lines and leftover temp files', () => {
    const dir = runDir();
    const path = join(dir, RUN_FILES.metrics);
    const line = (epoch: number) => JSON.stringify({ epoch, step: 4 * epoch });
    writeFileSync(path, `${line(1)}\n${line(2)}\n${line(3)}\n{"epoch":4,"st`);
    writeFileSync(join(dir, `.${RUN_FILES.state}.123.0123abcd.tmp`), 'torn');
    writeFileSync(join(dir, 'notes.txt'), 'not ours');
    tidyRunDir(dir, 8);
    expect(readFileSync(path, 'utf8')).toBe(`${line(1)}\n${line(2)}\n`);
    expect(readdirSync(dir).sort()).toEqual([RUN_FILES.metrics, 'notes.txt']);
    tidyRunDir(dir, 0);
    expect(readFileSync(path, 'utf8')).toBe('');
  });
});

describe('a hand-edited state.json is refused by file and field', () => {
  const edits: [string, (s: Record<string, any>) => void, RegExp][] = [
    [
      'a moment that is not base64 text',
      (s) => (s.optimizer.m = { w: 5 }),
      /'optimizer\.m\.w' must be a string, got 5/,
    ],
    ['no optimizer', (s) => delete s.optimizer, /'optimizer' must be a JSON object, got nothing/],
    ['a batch size of 0', (s) => (s.options.batchSize = 0), /'options\.batchSize' must be an integer ≥ 1, got 0/],
    ['a fractional epoch', (s) => (s.epoch = 1.5), /'epoch' must be an integer ≥ 0, got 1\.5/],
    ['partial sums as null', (s) => (s.partial = null), /'partial' must be a JSON object, got null/],
    ['a best of text', (s) => (s.best = { top1: 'high', epoch: 1 }), /'best\.top1' must be a number from 0 to 1/],
    ['another format', (s) => (s.format = 'other'), /'format' must be one of "flatten-train-state"/],
    ['a later version', (s) => (s.version = 3), /'version' must be one of 1, 2, got 3/],
    ['a backend we lack', (s) => (s.options.backend = 'gpu'), /'options\.backend' must be one of "wasm", "cpu"/],
    ['kwargs as a list', (s) => (s.kwargs = []), /'kwargs' must be a JSON object, got \[\]/],
  ];
  for (const [what, edit, message] of edits) {
    it(what, () => {
      const dir = runDir();
      saveCheckpoint(dir, ...checkpointAt(1));
      const path = join(dir, RUN_FILES.state);
      const state = JSON.parse(readFileSync(path, 'utf8'));
      edit(state);
      writeFileSync(path, JSON.stringify(state));
      const err = (() => {
        try {
          loadCheckpoint(dir);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(FlattenError);
      expect((err as FlattenError).code).toBe('BAD_FILE');
      expect((err as Error).message).toContain(`${path}: not a usable training state: `);
      expect((err as Error).message).toMatch(message);
    });
  }
});
