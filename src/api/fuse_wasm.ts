import { FlattenError } from '../core/errors.js';
import { readFileBytes, regularFileExists, writeFileAtomic } from '../io/files.js';
import { buildFmaWasm } from '../engines/onnx/wasm/fma.js';

export interface FuseWasmSpec {
  /** An onnxruntime-web build's .wasm, e.g. node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm. */
  input: string;
  output: string;
  overwrite?: boolean;
}

/**
 * `flatten fuse-wasm`: writes the build's .wasm for relaxed SIMD (src/engines/onnx/wasm/fma.ts: our FMA SGEMM
 * kernel in MLAS's place, our depthwise conv in front of MLAS's, our block transpose and erf, every other f32x4 multiply-add fused), for the web pipeline's `fmaWasm`. Nothing is
 * written on a bad input.
 */
export function fuseWasmFile(spec: FuseWasmSpec): {
  fused: number;
  functions: number;
  kernels: number;
  depthwise: boolean;
  transpose: boolean;
  erf: boolean;
  bytes: number;
} {
  if (spec.input === spec.output)
    throw new FlattenError('BAD_ARGUMENT', `${spec.output}: the output is the input; write to another file`);
  if (regularFileExists(spec.output) && !spec.overwrite)
    throw new FlattenError('BAD_ARGUMENT', `${spec.output}: exists (pass --overwrite to replace it)`);
  const input = readFileBytes(spec.input);
  let r;
  try {
    r = buildFmaWasm(input);
  } catch (e) {
    // the module's errors name the byte, not the file
    if (e instanceof FlattenError) throw new FlattenError(e.code, `${spec.input}: ${e.message}`);
    throw e;
  }
  if (!r.fused)
    throw new FlattenError(
      'BAD_FILE',
      `${spec.input}: no f32x4 multiply-add to fuse (not a SIMD build of onnxruntime-web?)`,
    );
  writeFileAtomic(spec.output, r.bytes);
  return {
    fused: r.fused,
    functions: r.functions,
    kernels: r.kernels,
    depthwise: r.depthwise,
    transpose: r.transpose,
    erf: r.erf,
    bytes: r.bytes.length,
  };
}
