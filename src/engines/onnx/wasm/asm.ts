import { leb } from './code.js';

/**
 * Wasm instructions as bytes, and structured control flow over them: what our kernels (sgemm.ts, depthwise.ts) and
 * rewrites (fma.ts) emit. Code is a plain byte array; a statement leaves the stack as it found it.
 */

export type Code = number[];

export const localGet = (i: number): Code => [0x20, ...leb(i)];
export const localSet = (i: number): Code => [0x21, ...leb(i)];
export const simdOp = (op: number): Code => [0xfd, ...leb(op)];
/** f32x4.relaxed_madd: a·b + c of the stack [a, b, c]. */
export const RELAXED_MADD = simdOp(261);

/** Signed LEB128 (i32.const's immediate). */
export function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const x = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(x & 0x40)) || (v === -1 && x & 0x40)) return [...out, x];
    out.push(x | 0x80);
  }
}

export const i32c = (v: number): Code => [0x41, ...sleb(v)];
export const f32c = (v: number): Code => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return [0x43, ...b];
};
const mem = (align: number, offset: number): Code => [align, ...leb(offset)];
export const i32Load = (offset: number): Code => [0x28, ...mem(2, offset)];
export const i32Store = (offset: number): Code => [0x36, ...mem(2, offset)];
export const f32Load = (offset: number): Code => [0x2a, ...mem(2, offset)];
export const f32Store = (offset: number): Code => [0x38, ...mem(2, offset)];
export const v128Load = (offset: number): Code => [...simdOp(0), ...mem(4, offset)];
export const v128Store = (offset: number): Code => [...simdOp(11), ...mem(4, offset)];
/** v128.load32_splat: the f32 at the address, in every lane. */
export const splatLoad = (offset = 0): Code => [...simdOp(9), ...mem(2, offset)];
export const F32X4_SPLAT = simdOp(19);
export const F32X4_ADD = simdOp(228);
export const F32X4_MUL = simdOp(230);
/** f32x4.extract_lane l. */
export const lane = (l: number): Code => [...simdOp(31), l];
export const V128_ZERO: Code = [...simdOp(12), ...new Array<number>(16).fill(0)];

export const [I32_EQZ, I32_EQ, I32_NE, I32_LT_S, I32_LT_U, I32_GT_S, I32_LE_S, I32_GE_S] = [
  0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4c, 0x4e,
];
export const [I32_ADD, I32_SUB, I32_MUL, I32_REM_U, I32_AND, I32_SHL, I32_SHR_S] = [
  0x6a, 0x6b, 0x6c, 0x70, 0x71, 0x74, 0x75,
];
export const [F32_NE, F32_ADD, F32_MUL] = [0x5c, 0x92, 0x94];
export const SELECT = 0x1b;
export const [UNREACHABLE, BLOCK, LOOP, IF, ELSE, END, BR, BR_IF, RETURN, CALL] = [
  0x00, 0x02, 0x03, 0x04, 0x05, 0x0b, 0x0c, 0x0d, 0x0f, 0x10,
];
export const [I32, F32, V128] = [0x7f, 0x7d, 0x7b];
/** The block type of a block that takes and leaves nothing. */
export const VOID = 0x40;

export const seq = (...parts: Code[]): Code => parts.flat();
export const ifThen = (cond: Code, ...body: Code[]): Code => [...cond, IF, VOID, ...body.flat(), END];
export const ifElse = (cond: Code, then: Code, otherwise: Code): Code => [
  ...cond,
  IF,
  VOID,
  ...then,
  ELSE,
  ...otherwise,
  END,
];
/** `for (; !exit; ) body`: a block around a loop that leaves when `exit` is true. */
export const loopUntil = (exit: Code, ...body: Code[]): Code => [
  BLOCK,
  VOID,
  LOOP,
  VOID,
  ...exit,
  BR_IF,
  1,
  ...body.flat(),
  BR,
  0,
  END,
  END,
];
/** local += v (i32). */
export const addTo = (local: number, v: Code): Code => [...localGet(local), ...v, I32_ADD, ...localSet(local)];
/** base + i · stride (i32 locals; i a constant): a row's address. */
export const offsetRow = (base: number, stride: number, i: number): Code =>
  i ? [...localGet(base), ...localGet(stride), ...i32c(i), I32_MUL, I32_ADD] : localGet(base);
/** A function body's local declarations: runs of [count, type]. */
export const locals = (...runs: [count: number, type: number][]): Code => [
  ...leb(runs.length),
  ...runs.flatMap(([n, t]) => [...leb(n), t]),
];
