/**
 * A tiny wasm module assembler: vectors, sections, the module header, export entries. What the tests of this folder
 * and the bench's peak measurement (bench/web_peak.ts) build their small modules with.
 */
import { leb } from './code.js';

export { leb };
/** A wasm vector: its length, then its items. */
export const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];
/** A section: its id, its size, its content. */
export const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
/** The magic number and version 1. */
export const HEADER = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
/** An export entry: its name, its kind (0 function, 2 memory), its index. */
export const exportEntry = (name: string, kind: number, index: number) => [
  ...leb(name.length),
  ...new TextEncoder().encode(name),
  kind,
  ...leb(index),
];
