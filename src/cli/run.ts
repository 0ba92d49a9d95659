import { FlattenError } from '../core/errors.js';
import { InvalidArgumentError } from 'commander';
import { ENGINE_NAMES, type EngineName } from '../api/engine.js';

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

/** A bad option value: commander names the option and the value, and exits with code 1. */
const invalid = (message: string) => new InvalidArgumentError(message);

/** An option that takes one of `values`, checked while the options are parsed (a typo is reported before any work). */
export function parseChoice<T extends string>(what: string, values: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(values as readonly string[]).includes(v)) throw invalid(`available ${what}: ${values.join(', ')}`);
    return v as T;
  };
}

/** `--engine`. */
export const parseEngineOption: (v: string) => EngineName = parseChoice('engines', ENGINE_NAMES);

export function parseIntOption(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw invalid(`${name} must be a whole number ≥ ${min}`);
    return n;
  };
}

export function parseNumberOption(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min) throw invalid(`${name} must be a number ≥ ${min}`);
    return n;
  };
}

/** `--img-size H[,W]` (a single side means a square). */
export function parseImgSize(v: string): [number, number] {
  const parts = v.split(',').map((p) => Number(p.trim()));
  if (parts.length > 2 || parts.some((n) => !Number.isInteger(n) || n < 1))
    throw invalid('--img-size takes a side or H,W in pixels, e.g. 384 or 224,288');
  return [parts[0], parts[1] ?? parts[0]];
}

/** The input size of `--img-size`, or of `--resolution R`, its older spelling (= --img-size R,R). */
export function imgSizeOf(o: { imgSize?: [number, number]; resolution?: number }): [number, number] | undefined {
  if (o.imgSize && o.resolution !== undefined)
    throw new FlattenError('BAD_ARGUMENT', '--resolution is another spelling of --img-size: give one of them');
  return o.imgSize ?? (o.resolution !== undefined ? [o.resolution, o.resolution] : undefined);
}
