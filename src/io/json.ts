import { readFileBytes } from './files.js';
import { parseJson } from './json_text.js';

export { parseJson, type JsonSource } from './json_text.js';

/** Read a JSON file, naming the file in any error (and refusing duplicate keys, see json_text.ts). */
export function readJsonFile<T = unknown>(path: string): T {
  return parseJson<T>(new TextDecoder().decode(readFileBytes(path)), { file: path });
}
