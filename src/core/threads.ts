import { availableParallelism } from 'node:os';
import { FlattenError } from './errors.js';

/** FLATTEN_THREADS when set, else every core the process may use. */
export function defaultThreads(): number {
  const env = process.env.FLATTEN_THREADS;
  if (env === undefined || env === '') return availableParallelism();
  const n = Number(env);
  if (!Number.isInteger(n) || n <= 0)
    throw new FlattenError('BAD_ARGUMENT', `FLATTEN_THREADS must be a positive integer, got '${env}'`);
  return n;
}
