/**
 * JSON from files and from fields inside files (a safetensors header, its `flatten.kwargs` metadata).
 * JSON.parse alone keeps the last of two equal keys and says nothing of where the text came from, so a
 * parse here also refuses duplicate keys and deep nesting, and every failure names the file and the field.
 * Pure code with no node: imports, so browser bundles can parse safetensors headers (json.ts adds files).
 */
import { FlattenError } from '../core/errors.js';

export interface JsonSource {
  /** The file, as the user named it. */
  file: string;
  /** The field inside the file that held the text, when it is not the whole file. */
  field?: string;
  /** Deepest nesting of objects and arrays allowed (default 64). */
  maxDepth?: number;
  /** The text must hold a JSON object (kwargs, configs): anything else is refused here, by name. */
  object?: boolean;
}

function where(src: JsonSource): string {
  return src.field ? `${src.file}: ${src.field}` : src.file;
}

/** Walk valid JSON text once: refuse an object with two equal keys, or nesting past `maxDepth`. */
function checkStructure(text: string, src: JsonSource): void {
  const maxDepth = src.maxDepth ?? 64;
  // One entry per open bracket: the keys seen so far for an object, null for an array.
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const keys = open[open.length - 1];
      if (keys && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (keys.has(key))
          throw new FlattenError('BAD_FILE', `${where(src)}: key ${JSON.stringify(key)} appears twice in one object`);
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      open.push(c === '{' ? new Set() : null);
      if (open.length > maxDepth)
        throw new FlattenError('TOO_LARGE', `${where(src)}: JSON nests more than ${maxDepth} levels deep`);
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      expectKey = open[open.length - 1] instanceof Set;
    }
  }
}

/** Parse JSON text that came from `src`; a syntax error says where in the text it is. */
export function parseJson<T = unknown>(text: string, src: JsonSource): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const at = /position (\d+)/.exec(String((e as Error).message))?.[1];
    throw new FlattenError(
      'BAD_FILE',
      `${where(src)}: not valid JSON${at === undefined ? '' : ` (near character ${at})`}`,
    );
  }
  checkStructure(text, src);
  if (src.object && (typeof value !== 'object' || value === null || Array.isArray(value)))
    throw new FlattenError(
      'BAD_FILE',
      `${where(src)}: must be a JSON object, got ${JSON.stringify(value)?.slice(0, 80)}`,
    );
  return value as T;
}
