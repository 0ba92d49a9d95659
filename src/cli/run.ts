import { FlattenError } from '../core/errors.js';
import { engineRunner } from '../api/engine.js';

/**
 * Wraps a command action: a FlattenError becomes one line on stderr and exit code 1; anything else is
 * an internal error, also one line unless FLATTEN_DEBUG is set (then the stack follows).
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      const err = e as Error;
      const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ');
      if (err instanceof FlattenError) console.error(`flatten: error: ${oneLine(err.message)}`);
      else
        console.error(
          `flatten: internal error: ${oneLine(err?.message ?? String(e))}${process.env.FLATTEN_DEBUG ? `\n${err?.stack}` : ' (set FLATTEN_DEBUG=1 for a stack trace)'}`,
        );
      process.exitCode = 1;
    }
  };
}

/** One warning line on stderr (e.g. that a model runs on random weights). */
export function warn(line: string): void {
  console.error(`flatten: warning: ${line}`);
}

/** `--engine`: checked while the options are parsed, so that a typo is reported before any file is read. */
export function parseEngineOption(v: string): string {
  engineRunner(v);
  return v;
}

export function parseIntOption(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new FlattenError('BAD_ARGUMENT', `${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}
