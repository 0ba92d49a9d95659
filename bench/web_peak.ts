/**
 * The matrix-kernel floor for bench/web_latency.ts's `peak` part: how fast a 128-bit wasm engine can multiply-add at
 * all, how close our SGEMM kernel (src/engines/onnx/wasm/sgemm.ts) comes to that, and how fast onnxruntime-node's
 * MatMul is on the same CPU. With the profile part's Gemm time, it says how low web / node can go for a model.
 *
 * The module: `fma(n)` runs n rounds of 12 independent f32x4.relaxed_madd chains (96 flops a round; 12 chains hide
 * the FMA latency on two pipes), `sgemm` is our zero-mode kernel, and one memory. No loads in the fma loop: its
 * multiplicands come from memory once, so that the engine cannot fold them.
 */
import { sgemmKernelBody } from '../src/engines/onnx/wasm/sgemm.js';
import { exportEntry, HEADER, leb, section, vec } from '../src/engines/onnx/wasm/module.js';
import {
  END,
  F32X4_ADD,
  I32_EQZ,
  I32_SUB,
  i32c,
  lane,
  locals,
  localGet as get,
  localSet as set,
  loopUntil,
  RELAXED_MADD,
  seq,
  V128,
  v128Load,
} from '../src/engines/onnx/wasm/asm.js';

const CHAINS = 12;
/** Flops of one round of `fma`: 12 chains × 4 lanes × (multiply + add). */
export const FLOPS_PER_ROUND = CHAINS * 4 * 2;
/** The SGEMM shape timed: flatten_swin_t's first-stage fc1 (tokens × in · in × out). */
export const GEMM_SHAPE = [3136, 96, 384] as const;
const PAGES = 256;

function fmaBody(): number[] {
  // param 0: rounds; v128 locals: the chains, then the two multiplicands
  const [N, ACC] = [0, 1];
  const [A, B] = [ACC + CHAINS, ACC + CHAINS + 1];
  const code = seq(...[A, B].map((v, i) => [...i32c(0), ...v128Load(16 * i), ...set(v)]));
  for (let j = 0; j < CHAINS; j++) code.push(...i32c(32), ...v128Load(0), ...set(ACC + j));
  const round = seq(
    ...Array.from({ length: CHAINS }, (_, j) => [
      ...get(A),
      ...get(B),
      ...get(ACC + j),
      ...RELAXED_MADD,
      ...set(ACC + j),
    ]),
  );
  code.push(...loopUntil([...get(N), I32_EQZ], round, get(N), i32c(1), [I32_SUB], set(N)));
  // the chains' sum, so that none of them is dead code
  code.push(...get(ACC));
  for (let j = 1; j < CHAINS; j++) code.push(...get(ACC + j), ...F32X4_ADD);
  code.push(...lane(0));
  return [...locals([CHAINS + 2, V128]), ...code, END];
}

/** The module: export 'fma' (rounds) → f32, 'sgemm' (our zero-mode kernel), 'mem'. */
export function peakModule(): Uint8Array {
  const fmaType = [0x60, ...vec([[0x7f]]), 1, 0x7d];
  const sgemmType = [0x60, ...vec([...new Array<number[]>(8).fill([0x7f]), [0x7d]]), 1, 0x7f];
  const bodies = [fmaBody(), sgemmKernelBody(true)].map((b) => [...leb(b.length), ...b]);
  return Uint8Array.from([
    ...HEADER,
    ...section(1, vec([fmaType, sgemmType])),
    ...section(3, vec([[0], [1]])),
    ...section(5, vec([[0x00, ...leb(PAGES)]])),
    ...section(7, vec([exportEntry('fma', 0, 0), exportEntry('sgemm', 0, 1), exportEntry('mem', 2, 0)])),
    ...section(10, vec(bodies)),
  ]);
}

export interface PeakTimes {
  /** ms of `fma(rounds)`. */
  fmaMs: number;
  rounds: number;
  /**
   * ms of one whole SGEMM of GEMM_SHAPE: the kernel called over all rows, each call doing the rows it returns, as
   * MLAS's driver loops; unlike that driver, every call takes all N columns and all of K at once (the driver blocks
   * them; calls blocked by 128 columns and 256 rows of k measured within 10% of these, in Node).
   */
  gemmMs: number;
}

/**
 * Runs in the page: instantiates the module once, then times one fma call and one whole SGEMM (median of `reps`
 * each); the argument is [module bytes, shape, rounds, reps]. A string, not a function: the bench runs under tsx,
 * whose transpiled functions call a helper (`__name`) that the page does not have.
 */
export const PEAK_PAGE_JS = `async ([bytes, shape, rounds, reps]) => {
  if (!globalThis.peak) {
    const { instance } = await WebAssembly.instantiate(new Uint8Array(bytes));
    globalThis.peak = instance.exports;
    const f = new Float32Array(peak.mem.buffer);
    for (let i = 0; i < f.length; i++) f[i] = ((i % 97) - 48) / 480; // small values: no overflow, no denormals
  }
  const p = globalThis.peak;
  const [m, k, n] = shape;
  const a = 1024, b = a + m * k * 4, c = b + Math.ceil(n / 16) * 16 * k * 4;
  const time = (f) => {
    const t = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      f();
      t.push(performance.now() - t0);
    }
    return t.sort((x, y) => x - y)[t.length >> 1];
  };
  const fmaMs = time(() => p.fma(rounds));
  // each call does the rows it returns, over all N and K (see PeakTimes.gemmMs)
  const gemmMs = time(() => {
    for (let done = 0; done < m; ) done += p.sgemm(a + done * k * 4, b, c + done * n * 4, k, m - done, n, k, n, 1);
  });
  return { fmaMs, rounds, gemmMs };
}`;
