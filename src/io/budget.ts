/**
 * What one read may allocate. A tiny file can describe a huge tensor (a stride-0 view, a declared size,
 * a shape in a header), so every reader charges each allocation here *before* making it, and refuses
 * with TOO_LARGE once the total would pass the limit. The count is exact (bytes of the typed arrays and
 * copies the reader makes), which is what the fuzzer checks, rather than time or process memory.
 */
import { FlattenError } from '../core/errors.js';

/** The stated default: 8 bytes per input byte (int8 widened to int32 is 4, shared storages copied twice), plus 64 MiB. */
export function defaultLimit(inputBytes: number): number {
  return 8 * inputBytes + 64 * 2 ** 20;
}

export class ReadBudget {
  /** Bytes charged so far. */
  bytes = 0;
  /** The largest single charge, for the fuzzer's report. */
  largest = 0;

  constructor(readonly limit: number) {}

  /** Count `bytes` about to be allocated for `what` (a file and field), or refuse. */
  charge(bytes: number, what: string): void {
    if (!Number.isFinite(bytes) || bytes < 0 || bytes > this.limit - this.bytes) {
      throw new FlattenError(
        'TOO_LARGE',
        `${what}: needs ${bytes} bytes, more than the ${this.limit - this.bytes} left of this file's read budget of ${this.limit}`,
      );
    }
    this.bytes += bytes;
    this.largest = Math.max(this.largest, bytes);
  }
}

/** Options every reader takes. */
export interface ReadOptions {
  /** Shared counter and limit; by default each read gets `defaultLimit(file size)`. */
  budget?: ReadBudget;
}

export function budgetFor(opts: ReadOptions, inputBytes: number): ReadBudget {
  return opts.budget ?? new ReadBudget(defaultLimit(inputBytes));
}
