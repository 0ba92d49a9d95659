/**
 * The fuzz loop and its verdicts. An input passes when the reader returns, or throws a FlattenError with
 * a code and a one-line message of at most MAX_MESSAGE characters, and when what it allocated stayed within the
 * stated budget: `defaultLimit(input size)` (8 bytes per input byte + 64 MiB, budget.ts), counted by the
 * readers themselves, and at least as much as the typed arrays it handed back (so no allocation went
 * uncounted). Anything else is a defect, reported with the format and index that reproduce it.
 */
import { FlattenError, MAX_MESSAGE } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { ReadBudget, defaultLimit } from '../../src/io/budget.js';
import { PyObject } from '../../src/io/pickle.js';
import type { Target } from './targets.js';

export interface Verdict {
  /** 'accepted', an error code, or 'defect'. */
  outcome: string;
  defect?: string;
  charged: number;
}

export interface Counters {
  format: string;
  inputs: number;
  outcomes: Record<string, number>;
  maxCharged: number;
  /** Highest peak RSS of a child process (long form only). */
  peakRss?: number;
  defects: { index: number; why: string }[];
}

/** Input `index` of a target: the same bytes for the same seed, everywhere. */
export function input(target: Target, formatIndex: number, seed: number, index: number) {
  const rng = Rng.derive(seed, formatIndex, index);
  const seedIndex = rng.int(target.seeds.length);
  return { seedIndex, bytes: target.mutate(target.seeds[seedIndex], rng) };
}

/** Bytes of every typed array reachable from a reader's result (shared ones once). */
function returnedBytes(v: unknown, seen = new Set<object>()): number {
  if (typeof v !== 'object' || v === null || seen.has(v)) return 0;
  seen.add(v);
  if (ArrayBuffer.isView(v)) return v.byteLength;
  const parts: unknown[] =
    v instanceof Map || v instanceof Set || Array.isArray(v)
      ? [...v.values()]
      : v instanceof PyObject
        ? [v.args, v.state, v.items, v.list, v.kwargs]
        : Object.values(v);
  let n = 0;
  for (const p of parts) n += returnedBytes(p, seen);
  return n;
}

export async function judge(target: Target, bytes: Uint8Array, seedIndex: number): Promise<Verdict> {
  const budget = new ReadBudget(defaultLimit(bytes.length));
  let outcome = 'accepted';
  let defect: string | undefined;
  try {
    const result = await target.run(bytes, budget, seedIndex);
    const back = returnedBytes(result);
    if (back > budget.bytes) defect = `returned ${back} bytes of arrays but charged only ${budget.bytes}`;
  } catch (e) {
    if (!(e instanceof FlattenError))
      defect = `not a FlattenError: ${String((e as Error)?.stack ?? e)
        .split('\n')
        .slice(0, 3)
        .join(' | ')}`;
    else if (!e.code || e.message.length > MAX_MESSAGE || /[\n\r]/.test(e.message))
      defect = `bad FlattenError (${e.message.length} chars): ${e.message.slice(0, 200)}`;
    else outcome = e.code;
  }
  if (budget.bytes > budget.limit) defect = `charged ${budget.bytes} bytes, over the budget of ${budget.limit}`;
  return { outcome: defect ? 'defect' : outcome, defect, charged: budget.bytes };
}

export function newCounters(format: string): Counters {
  return { format, inputs: 0, outcomes: {}, maxCharged: 0, defects: [] };
}

export function count(c: Counters, index: number, v: Verdict): void {
  c.inputs++;
  c.outcomes[v.outcome] = (c.outcomes[v.outcome] ?? 0) + 1;
  c.maxCharged = Math.max(c.maxCharged, v.charged);
  if (v.defect) c.defects.push({ index, why: v.defect });
}

export interface FuzzOptions {
  seed: number;
  /** Stop after this many inputs per format... */
  inputs: number;
  /** ...or after this many seconds per format, whichever comes first. */
  seconds: number;
  /** First input index (to replay one: `from` and `inputs: 1`). */
  from?: number;
}

/** Run one target in this process. */
export async function fuzzInProcess(target: Target, formatIndex: number, o: FuzzOptions): Promise<Counters> {
  const c = newCounters(target.format);
  const stop = Date.now() + o.seconds * 1000;
  for (let i = o.from ?? 0; c.inputs < o.inputs && Date.now() < stop; i++) {
    const { seedIndex, bytes } = input(target, formatIndex, o.seed, i);
    count(c, i, await judge(target, bytes, seedIndex));
  }
  return c;
}

export function report(c: Counters): string {
  const outcomes = Object.entries(c.outcomes)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const rss = c.peakRss ? `; child peak RSS ${Math.round(c.peakRss / 2 ** 20)} MB` : '';
  const lines = [
    `${c.format.padEnd(12)} ${String(c.inputs).padStart(7)} inputs: ${outcomes}; max charged ${c.maxCharged} bytes${rss}`,
  ];
  for (const d of c.defects.slice(0, 10)) lines.push(`  DEFECT ${c.format}#${d.index}: ${d.why}`);
  if (c.defects.length > 10) lines.push(`  ... ${c.defects.length - 10} more defects`);
  return lines.join('\n');
}
