/**
 * File-system helpers shared by the readers and writers: every failure becomes a FlattenError
 * that names the path, and writes are atomic so a crash never leaves a half-written output.
 */
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  appendFileSync,
  constants,
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  rmdirSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { FlattenError, systemReason } from '../core/errors.js';

/** Whole file as bytes; a missing or unreadable file is a BAD_FILE naming the path. */
export function readFileBytes(path: string): Uint8Array {
  try {
    const buf = readFileSync(path);
    // A plain Uint8Array view: Buffer overrides slice() to return a view, which would surprise callers.
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    throw new FlattenError('BAD_FILE', `${path}: cannot read file (${systemReason(err)})`);
  }
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'a device';
}

/**
 * Whether `path` exists, refusing anything there that is not a regular file: a rename over a symlink,
 * FIFO or device node would silently replace it (`--output /dev/full` once became a regular file), and
 * reading a FIFO blocks forever. lstat, so a symlink is refused rather than followed.
 */
export function regularFileExists(path: string): boolean {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new FlattenError('BAD_FILE', `${path}: cannot inspect (${systemReason(err)})`);
  }
  if (!st.isFile())
    throw new FlattenError('BAD_FILE', `refusing to replace ${path}: not a regular file (${kindOf(st)})`);
  return true;
}

/** The temporary files of writeFileAtomic are `.<name>.<pid>.<hex>.tmp` beside the target. */
const TEMP_NAME = /^\.(.+)\.\d+\.[0-9a-f]{8}\.tmp$/;

/** The file name that `entry`, a temporary file of writeFileAtomic, was being written for. */
export const tempTarget = (entry: string): string | undefined => TEMP_NAME.exec(entry)?.[1];

/** A new file holding `bytes`, flushed to disk. */
function writeNewFile(path: string, bytes: Uint8Array): void {
  // 'wx': never write through something already at the name (a planted symlink)
  const fd = openSync(path, 'wx');
  try {
    for (let at = 0; at < bytes.byteLength;) at += writeSync(fd, bytes, at);
    // on disk before the rename, so a power cut cannot leave the new name on empty data
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A fresh name beside `path`, for what is being written for it (`kind` 'tmp', or 'old' for a folder moved aside). */
const besideName = (path: string, kind = 'tmp') =>
  join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.${kind}`);

/** Writes `bytes` to a new temporary file beside `path` and flushes it; returns the temporary name. */
function writeTemp(path: string, bytes: Uint8Array): string {
  const tmp = besideName(path);
  try {
    writeNewFile(tmp, bytes);
    return tmp;
  } catch (err) {
    removeQuietly(tmp);
    throw new FlattenError('BAD_FILE', `${path}: cannot write file (${systemReason(err)})`);
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // the file may never have been created; nothing to clean up
  }
}

/**
 * Write to a temporary file in the same directory, flush it, then rename over the target: rename within
 * one file system is atomic, so readers see either the old file or the complete new one. The target must
 * be absent or a regular file (see regularFileExists).
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  writeFilesAtomic([{ path, bytes }]);
}

/**
 * Several outputs of one command, all or none: every file is written and flushed under a temporary name
 * first, and only when all of them are complete are they renamed over their targets. A failure before that
 * (a full disk, an unwritable folder, a target that is not a regular file) leaves every target as it was.
 */
export function writeFilesAtomic(files: { path: string; bytes: Uint8Array }[]): void {
  for (const f of files) regularFileExists(f.path);
  const temps: string[] = [];
  try {
    for (const f of files) temps.push(writeTemp(f.path, f.bytes));
  } catch (err) {
    temps.forEach(removeQuietly);
    throw err;
  }
  files.forEach((f, i) => {
    try {
      renameSync(temps[i], f.path);
    } catch (err) {
      temps.slice(i).forEach(removeQuietly);
      throw new FlattenError('BAD_FILE', `${f.path}: cannot write file (${systemReason(err)})`);
    }
  });
}

/** Renames a file over `to` (atomic), which must be absent or a regular file. */
export function renameFile(from: string, to: string): void {
  regularFileExists(to);
  try {
    renameSync(from, to);
  } catch (err) {
    throw new FlattenError('BAD_FILE', `${to}: cannot rename ${from} to it (${systemReason(err)})`);
  }
}

/** Deletes the temporary files that a killed writeFileAtomic left beside `names` in `dir`. */
export function removeLeftoverTemps(dir: string, names: readonly string[]): void {
  for (const entry of readdirSync(dir)) {
    const target = tempTarget(entry);
    if (target !== undefined && names.includes(target)) unlinkSync(join(dir, entry));
  }
}

/** Appends to a regular file (created if absent), naming the path on failure. */
export function appendFileText(path: string, text: string): void {
  regularFileExists(path);
  try {
    appendFileSync(path, text);
  } catch (err) {
    throw new FlattenError('BAD_FILE', `${path}: cannot append (${systemReason(err)})`);
  }
}

/**
 * Creates folder `path` (and its parents) for output, or checks an existing one. `what` names the option
 * in the message, e.g. "--out": a path that is a file, or a parent that is, is named as such rather than
 * surfacing as a bare EEXIST/ENOTDIR from mkdir.
 */
export function ensureOutputDir(path: string, what: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? `${code === 'EEXIST' ? 'it' : 'a parent'} exists and is not a folder`
        : `cannot create the folder (${systemReason(err)})`;
    throw new FlattenError('BAD_ARGUMENT', `${what} ${path}: ${why}`);
  }
  // checked now, not at the first checkpoint after an epoch of work (root passes any such check)
  try {
    accessSync(path, constants.W_OK);
  } catch (err) {
    throw new FlattenError('BAD_ARGUMENT', `${what} ${path}: the folder is not writable (${systemReason(err)})`);
  }
}

/**
 * Checks an output folder before any work is done: absent, or an empty folder, or (with `overwrite`) any
 * folder. `what` names the option in the message ("--out").
 */
export function checkOutputFolder(dir: string, opts: { overwrite?: boolean; what?: string } = {}): void {
  const what = opts.what ? `${opts.what} ${dir}` : dir;
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new FlattenError('BAD_FILE', `${what}: cannot inspect (${systemReason(err)})`);
  }
  if (!st.isDirectory()) throw new FlattenError('BAD_ARGUMENT', `${what}: exists and is not a folder`);
  if (!opts.overwrite && readdirSync(dir).length > 0)
    throw new FlattenError('BAD_ARGUMENT', `${what}: the folder is not empty (pass --overwrite to replace it)`);
}

/**
 * A whole folder, all or none: every file is written and flushed into a temporary folder beside `dir` (the
 * same file system), which is then renamed to `dir`. An existing `dir` must be empty unless `overwrite`; the old
 * folder is moved aside first and deleted only once the new one is in place (and moved back if that fails).
 * `files` paths are relative to `dir` ("onnx/model.onnx").
 */
export function writeFolderAtomic(
  dir: string,
  files: { path: string; bytes: Uint8Array }[],
  opts: { overwrite?: boolean; what?: string } = {},
): void {
  checkOutputFolder(dir, opts);
  for (const f of files)
    if (isAbsolute(f.path) || normalize(f.path).startsWith('..'))
      throw new FlattenError('BAD_ARGUMENT', `${f.path}: a folder's file must lie inside it`);
  ensureOutputDir(dirname(dir), opts.what ?? 'folder');
  const tmp = besideName(dir);
  try {
    mkdirSync(tmp);
    for (const f of files) {
      mkdirSync(dirname(join(tmp, f.path)), { recursive: true });
      writeNewFile(join(tmp, f.path), f.bytes);
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw new FlattenError('BAD_FILE', `${dir}: cannot write the folder (${systemReason(err)})`);
  }
  let old: string | undefined;
  try {
    if (lstatExists(dir)) {
      // an empty folder is removed (rename over a folder is not portable); a full one is kept until the end
      if (readdirSync(dir).length === 0) rmdirSync(dir);
      else renameSync(dir, (old = besideName(dir, 'old')));
    }
    renameSync(tmp, dir);
  } catch (err) {
    if (old && !lstatExists(dir)) renameSync(old, dir);
    rmSync(tmp, { recursive: true, force: true });
    throw new FlattenError('BAD_FILE', `${dir}: cannot write the folder (${systemReason(err)})`);
  }
  if (old) rmSync(old, { recursive: true, force: true });
}

const lstatExists = (path: string) => {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
};
