import type { Command } from 'commander';
import { fuseWasmFile } from '../../api/fuse_wasm.js';
import { action } from '../run.js';

/**
 * `flatten fuse-wasm <in> <out>`: an onnxruntime-web build's .wasm with its multiply-adds fused into relaxed SIMD's
 * FMA, for a page's `fmaWasm` option (browsers without relaxed SIMD keep the stock file).
 */
export function registerFuseWasm(program: Command): void {
  program
    .command('fuse-wasm')
    .description(
      "an onnxruntime-web .wasm for relaxed SIMD (our FMA SGEMM kernel, depthwise conv, block transpose and erf; multiply-adds fused): serve it beside the stock one, pass its URL as the web pipeline's fmaWasm",
    )
    .argument('<in>', "the build's .wasm, e.g. node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm")
    .argument('<out>', 'the .wasm to write')
    .option('--overwrite', 'replace <out> if it exists')
    .action(
      action((input: string, output: string, o: { overwrite?: boolean }) => {
        const r = fuseWasmFile({ input, output, overwrite: o.overwrite });
        const kernels = [
          r.kernels ? 'our SGEMM kernel in place of MLAS’s two, ' : '',
          r.depthwise ? 'our depthwise conv before MLAS’s, ' : '',
          r.transpose ? 'our block transpose, ' : '',
          r.erf ? 'our erf, ' : '',
        ].join('');
        console.log(
          `wrote ${output}: ${kernels}${r.fused} multiply-adds fused in ${r.functions} functions (runs where relaxed SIMD does)`,
        );
      }),
    );
}
