import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** ../shared/golden beside the repo: the oracle of every parity test. */
export const GOLDEN_DIR = fileURLToPath(new URL('../../shared/golden/', import.meta.url));

export function goldenJson<T = unknown>(rel: string): T {
  return JSON.parse(readFileSync(GOLDEN_DIR + rel, 'utf8')) as T;
}

export interface ReleasedConfig {
  family: string;
  constructor: string;
  kwargs: Record<string, unknown>;
  parameters: number;
  state_dict: Record<string, number[]>;
}

export const releasedConfigs = () => goldenJson<Record<string, ReleasedConfig>>('configs.json');
export const goldenCases = () => goldenJson<{ cases: string[] }>('manifest.json').cases;
