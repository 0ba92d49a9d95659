import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { release, totalmem, type as osType } from 'node:os';

export type Row = Record<string, string | number | number[] | undefined>;

const require = createRequire(import.meta.url);
const version = (pkg: string) => (require(`${pkg}/package.json`) as { version: string }).version;

/** What the numbers were measured on: `lscpu` model name, memory, OS, runtime versions. */
export function machine() {
  let cpu = 'unknown CPU';
  try {
    cpu = /Model name:\s*(.+)/.exec(execSync('lscpu', { encoding: 'utf8' }))?.[1].trim() ?? cpu;
  } catch {
    cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim() ?? cpu;
  }
  return {
    cpu,
    memGiB: Math.round(totalmem() / 2 ** 30),
    os: `${osType()} ${release()}`,
    node: process.versions.node,
    ort: version('onnxruntime-node'),
    tfjs: version('@tensorflow/tfjs'),
  };
}

/** The upper median (the middle of an odd count), as every table of the benchmark reports it. */
export const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
