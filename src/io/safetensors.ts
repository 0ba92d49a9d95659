/** safetensors on disk: the byte format lives in safetensors_format.ts (browser-safe, no node:fs). */
import type { StateDict } from '../core/tensor.js';
import { readFileBytes, writeFileAtomic } from './files.js';
import type { ReadOptions } from './budget.js';
import { readSafetensors, writeSafetensors, type Safetensors } from './safetensors_format.js';

export { readSafetensors, writeSafetensors, type Safetensors } from './safetensors_format.js';

export function readSafetensorsFile(path: string, opts: ReadOptions = {}): Safetensors {
  return readSafetensors(readFileBytes(path), path, opts);
}

/** Atomic: the file appears complete or not at all. */
export function writeSafetensorsFile(path: string, sd: StateDict, metadata?: Record<string, string>): void {
  writeFileAtomic(path, writeSafetensors(sd, metadata));
}
