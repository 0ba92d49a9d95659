/**
 * File-system helpers shared by the readers and writers: every failure becomes a FlattenError
 * that names the path, and writes are atomic so a crash never leaves a half-written output.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FlattenError } from '../core/errors.js';

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code}: ${e.message}` : String(err);
}

/** Whole file as bytes; a missing or unreadable file is a BAD_FILE naming the path. */
export function readFileBytes(path: string): Uint8Array {
  try {
    const buf = readFileSync(path);
    // A plain Uint8Array view: Buffer overrides slice() to return a view, which would surprise callers.
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    throw new FlattenError('BAD_FILE', `${path}: cannot read file (${reason(err)})`);
  }
}

/**
 * Write to a temporary file in the same directory, then rename over the target: rename within one
 * file system is atomic, so readers see either the old file or the complete new one.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temp file may never have been created; nothing to clean up
    }
    throw new FlattenError('BAD_FILE', `${path}: cannot write file (${reason(err)})`);
  }
}
