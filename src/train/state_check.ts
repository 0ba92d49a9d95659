/**
 * Checks a training state read back for --resume, field by field. The file may have been edited by
 * hand, and a wrong type or range would otherwise surface deep in training as a TypeError or RangeError
 * (a number where the moments' base64 belongs, a batch size of 0), so each refusal names the file and
 * the field instead.
 */
import { FlattenError } from '../core/errors.js';
import type { TrainState } from './state.js';

/** Undefined when the value fits, else the complaint about field `at`. */
type Check = (v: unknown, at: string) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function preview(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

const expect =
  (ok: (v: unknown) => boolean, what: string): Check =>
  (v, at) =>
    ok(v) ? undefined : `'${at}' must be ${what}, got ${preview(v)}`;

const int = (min: number) => expect((v) => Number.isSafeInteger(v) && (v as number) >= min, `an integer ≥ ${min}`);
const num = (min = -Infinity, max = Infinity) =>
  expect(
    (v) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max,
    max < Infinity ? `a number from ${min} to ${max}` : min > -Infinity ? `a number ≥ ${min}` : 'a finite number',
  );
const text = expect((v) => typeof v === 'string', 'a string');
const object = expect(isObject, 'a JSON object');
const oneOf = (...values: unknown[]) =>
  expect((v) => values.includes(v), `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);

const optional =
  (c: Check): Check =>
  (v, at) =>
    v === undefined ? undefined : c(v, at);
const nullable =
  (c: Check): Check =>
  (v, at) =>
    v === null ? undefined : c(v, at);

/** An object with (at least) these fields; others are allowed, as older or newer writers may add some. */
const fields =
  (shape: Record<string, Check>): Check =>
  (v, at) => {
    if (!isObject(v)) return object(v, at);
    for (const [key, check] of Object.entries(shape)) {
      const bad = check(Object.hasOwn(v, key) ? v[key] : undefined, at ? `${at}.${key}` : key);
      if (bad) return bad;
    }
    return undefined;
  };

/** An object whose every value passes `c` (the optimizer moments, keyed by parameter). */
const each =
  (c: Check): Check =>
  (v, at) => {
    if (!isObject(v)) return object(v, at);
    for (const [key, x] of Object.entries(v)) {
      const bad = c(x, `${at}.${key}`);
      if (bad) return bad;
    }
    return undefined;
  };

/** The recipe fields a resumed run uses (see TrainOptions). */
const OPTIONS = fields({
  model: text,
  dataset: text,
  kwargs: object,
  epochs: int(0),
  batchSize: int(1),
  lr: num(0),
  minLr: num(0),
  warmupEpochs: num(0),
  weightDecay: num(0),
  labelSmoothing: num(0, 1),
  clipGrad: num(0),
  seed: num(0),
  trainPerClass: optional(int(1)),
  testPerClass: optional(int(1)),
  evalEvery: int(1),
  evalBatchSize: int(1),
  backend: optional(oneOf('wasm', 'cpu')),
  microBatch: optional(int(1)),
});

const COMMON = {
  model: text,
  kwargs: object,
  dataset: text,
  options: OPTIONS,
  epoch: int(0),
  stepInEpoch: int(0),
  globalStep: int(0),
  rng: fields({ seed: num(0), epoch: int(0), step: int(0) }),
  partial: fields({ lossSum: num(), correct: int(0), seen: int(0), seconds: num(0) }),
  best: nullable(fields({ top1: num(0, 1), epoch: int(0) })),
  optimizer: fields({ step: int(0), m: each(text), v: each(text) }),
};

const VERSIONS: Record<number, Check> = {
  // version 1 states were paired with their weights by global step alone
  1: fields(COMMON),
  2: fields({
    ...COMMON,
    weightsSha256: expect((v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v), 'a SHA-256 in hex'),
  }),
};

/** `value` as a TrainState, or a BAD_FILE naming `file` and the first field at fault. */
export function checkTrainState(value: unknown, file: string): TrainState {
  const bad =
    fields({ format: oneOf('flatten-train-state'), version: oneOf(1, 2) })(value, '') ??
    VERSIONS[(value as TrainState).version](value, '');
  if (bad) throw new FlattenError('BAD_FILE', `${file}: not a usable training state: ${bad}`);
  return value as TrainState;
}
