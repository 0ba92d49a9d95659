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
  | 'TOO_LARGE'; // a file asks a reader for more memory, items or nesting than it allows

/** Longest message kept: a hostile file can put megabytes into a key or a repr, and a message is one line. */
export const MAX_MESSAGE = 1000;

export class FlattenError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message);
    this.name = 'FlattenError';
  }
}
