import { FlattenError } from '../core/errors.js';
import { readFileBytes } from './files.js';

/** Read a JSON file, naming the file in any error. */
export function readJsonFile<T = unknown>(path: string): T {
  const text = new TextDecoder().decode(readFileBytes(path));
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new FlattenError('BAD_FILE', `${path}: not valid JSON (${(e as Error).message})`);
  }
}
