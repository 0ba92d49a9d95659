/** Names the page and the Node-side scripts (build, samples, e2e test) must agree on. */
export const MODEL_NAME = 'flatten_deit_fmnist';
/** Where web/build.ts writes the seeded random weights, relative to web/ (and to the page's URL). */
export const RANDOM_WEIGHTS_PATH = 'dist/random_weights.safetensors';

/** One embedded Fashion-MNIST test image (web/samples/, written by web/make_samples.ts). */
export interface Sample {
  file: string;
  label: number;
  /** Index in the TEST split as src/data/fashion_mnist.ts defines it. */
  testIndex: number;
}
