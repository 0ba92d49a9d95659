/**
 * Values web/build.ts injects into the bundle (esbuild `define`) because their one home is Node-side
 * code: the Fashion-MNIST class names live in src/data/fashion_mnist.ts, whose loaders need node:fs,
 * and the shipped weights' path in the registry entry (served by web/serve.ts at that same path).
 */
declare const __FASHION_MNIST_CLASSES__: string[];
declare const __SHIPPED_WEIGHTS__: string;
/** Fashion-MNIST class names, in label order. */
export const LABELS: readonly string[] = __FASHION_MNIST_CLASSES__;
/** The shipped weights' repo-relative path, e.g. weights/flatten_deit_fmnist.safetensors. */
export const SHIPPED_WEIGHTS: string = __SHIPPED_WEIGHTS__;
