/**
 * Every error a user can cause is a FlattenError: one line that names the thing at fault
 * (file, key, shape, option). The CLI prints `message` alone; anything else is a bug and keeps its stack.
 */
export type ErrorCode =
  | 'BAD_FILE' // unreadable, truncated or corrupt file
  | 'UNSAFE_PICKLE' // pickle asks for a global or call we refuse to run
  | 'BAD_KEYS' // missing / unexpected / mis-shaped checkpoint keys
  | 'BAD_SHAPE' // input tensor shape does not fit the model
  | 'BAD_CONFIG' // unknown model name, bad option or config
  | 'BAD_ARGUMENT' // CLI usage
  | 'MISSING_PACKAGE' // an optional dependency that this use needs is not installed
  | 'TOO_LARGE'; // a file asks a reader for more memory, items or nesting than it allows

/** Longest message kept: a hostile file can put megabytes into a key or a repr, and a message is one line. */
export const MAX_MESSAGE = 1000;

/**
 * Names and keys in messages come from files: control characters (a newline, a terminal escape) are shown
 * as \xNN, so a message stays one line and cannot drive the terminal it is printed on.
 */
function oneLine(message: string): string {
  return message.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export class FlattenError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    // cut before escaping too: a hostile message may be megabytes long
    const line = oneLine(message.slice(0, MAX_MESSAGE + 1));
    super(line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE - 1)}…` : line);
    this.name = 'FlattenError';
  }
}

/** `value` when it is one of `values`, else `code` saying "unknown <what> '<value>'; valid: <values>". */
export function checkChoice<T extends string>(
  value: string,
  values: readonly T[],
  what: string,
  code: ErrorCode = 'BAD_ARGUMENT',
): T {
  if (!(values as readonly string[]).includes(value))
    throw new FlattenError(code, `unknown ${what} '${value}'; valid: ${values.join(', ')}`);
  return value as T;
}

/**
 * A system error in our words, its code once: "no such file or directory, ENOENT". Node's own message repeats the code and
 * names the path the call used, which may be a temporary file; callers name the path the user gave.
 */
export function systemReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (!e?.code) return String((e as Error)?.message ?? err).split('\n')[0];
  const text = String(e.message ?? '')
    .replace(new RegExp(`^${e.code}:\\s*`), '')
    .replace(/,\s*\w+\s+'.*$/, '') // ", open '<the path the call used>'"
    .trim();
  return text ? `${text}, ${e.code}` : e.code;
}
