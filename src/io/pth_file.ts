import type { ReadOptions } from './budget.js';
import { readFileBytes } from './files.js';
import { readPth } from './pth.js';

/** readPth on a file; errors name the file by the path given (pth.ts itself stays Node-free, for the browser entry). */
export function readPthFile(path: string, opts: ReadOptions = {}): unknown {
  return readPth(readFileBytes(path), path, opts);
}
