import { Rng } from '../core/rng.js';

/**
 * The drop-path mask of the forward's `call`-th dropPath for rows first … first + rows − 1 of a batch: per
 * sample 0 or 1/(1 − rate), drawn from (keys…, row, call), so that any split of the batch (micro-batches,
 * worker shares) and either engine draw the same masks.
 */
export function dropMask(keys: number[], first: number, rows: number, call: number, rate: number): Float32Array {
  const keep = 1 - rate;
  return Float32Array.from(
    { length: rows },
    (_, i) => Math.floor(keep + Rng.derive(...keys, first + i, call).next()) / keep,
  );
}
