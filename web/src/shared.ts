/** Names the page and the Node-side scripts (build, samples, e2e test) must agree on. */
export const MODEL_NAME = 'flatten_deit_fmnist';
/** Where web/build.ts writes the seeded random weights, relative to web/ (and to the page's URL). */
export const RANDOM_WEIGHTS_PATH = 'dist/random_weights.safetensors';
/** Where web/build.ts writes the shipped model's ONNX graph (pre-optimized for the page; random weights without them). */
export const SHIPPED_ONNX_PATH = 'dist/flatten_deit_fmnist.onnx';
/**
 * Where web/build.ts writes onnxruntime-web's plain-build .wasm with its multiply-adds fused (relaxed SIMD), which the
 * page runs where the browser has relaxed SIMD.
 */
export const FMA_WASM_PATH = 'dist/ort-wasm-simd-threaded.fma.wasm';
/** Where web/serve.ts serves onnxruntime-web's dist files (loaders .mjs, builds .wasm), relative to the page. */
export const ORT_PATH = 'ort/';
/** Where it serves tfjs-backend-wasm's .wasm builds, relative to the page. */
export const TFJS_WASM_PATH = 'tfjs-wasm/';

/** One embedded Fashion-MNIST test image (web/samples/, written by web/make_samples.ts). */
export interface Sample {
  file: string;
  label: number;
  /** Index in the TEST split as src/data/fashion_mnist.ts defines it. */
  testIndex: number;
}
