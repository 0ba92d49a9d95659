import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { appendFileText, ensureOutputDir, writeFileAtomic } from '../../src/io/files.js';
import { tmp } from './helpers.js';

const dir = tmp('files');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Makes a special file with a system tool, or returns undefined where the tool or the right is missing. */
/** A FIFO or device node in our own folder, made with the system's tool (mknod needs root, as CI runs). */
function special(name: string, tool: string, ...args: string[]): string {
  const path = join(dir, name);
  execFileSync(tool, [path, ...args], { stdio: 'ignore' });
  return path;
}

describe('writes never replace what is not a regular file', () => {
  const bytes = new TextEncoder().encode('new');

  it('a symlink, a directory, a FIFO and a device node are refused and left as they were', () => {
    const target = join(dir, 'target.txt');
    writeFileSync(target, 'old');
    const link = join(dir, 'link.txt');
    symlinkSync(target, link);
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    const cases: [string, string][] = [
      [link, 'a symbolic link'],
      [folder, 'a directory'],
      [special('fifo', 'mkfifo'), 'a FIFO'],
      // the same numbers as /dev/null, in our own folder
      [special('null', 'mknod', 'c', '1', '3'), 'a device'],
    ];
    for (const [path, kind] of cases) {
      const before = lstatSync(path);
      expect(() => writeFileAtomic(path, bytes)).toThrow(`refusing to replace ${path}: not a regular file (${kind})`);
      expect(() => appendFileText(path, 'x')).toThrow(`refusing to replace ${path}: not a regular file (${kind})`);
      const after = lstatSync(path);
      expect([after.ino, after.mode]).toEqual([before.ino, before.mode]);
    }
    expect(readFileSync(target, 'utf8')).toBe('old');
  });

  it('a regular file is replaced, and a missing one created', () => {
    const path = join(dir, 'plain.txt');
    writeFileAtomic(path, bytes);
    writeFileAtomic(path, new TextEncoder().encode('newer'));
    expect(readFileSync(path, 'utf8')).toBe('newer');
  });
});

describe('an output folder that cannot be one is named', () => {
  it('an existing file, or a file where a parent folder should be', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    expect(() => ensureOutputDir(file, '--out')).toThrow(`--out ${file}: it exists and is not a folder`);
    expect(() => ensureOutputDir(join(file, 'run'), '--out')).toThrow(
      `--out ${join(file, 'run')}: a parent exists and is not a folder`,
    );
    ensureOutputDir(join(dir, 'new', 'run'), '--out');
    expect(lstatSync(join(dir, 'new', 'run')).isDirectory()).toBe(true);
  });
  it('a folder without write permission, checked as an unprivileged user (root may write anywhere)', () => {
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o500 });
    chmodSync(dir, 0o755);
    const probe = `import('./src/io/files.ts').then((m) => {
      for (const p of process.argv.slice(1)) {
        try { m.ensureOutputDir(p, '--out'); console.log('created ' + p); } catch (e) { console.log(e.code + ': ' + e.message); }
      }
    })`;
    // as root, setpriv drops to nobody so that the permission bits apply
    const [cmd, pre] =
      process.getuid?.() === 0
        ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath]]
        : [process.execPath, []];
    const out = execFileSync(cmd, [...pre, '--import', 'tsx', '-e', probe, locked, join(locked, 'run')], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(out).toContain(`BAD_ARGUMENT: --out ${locked}: the folder is not writable (permission denied, EACCES)`);
    expect(out).toContain(
      `BAD_ARGUMENT: --out ${join(locked, 'run')}: cannot create the folder (permission denied, EACCES)`,
    );
  });
});
