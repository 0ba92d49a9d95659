/**
 * Fashion-MNIST class names, in label order. The one list lives in src/data/fashion_mnist.ts, whose
 * dataset loaders need node:fs, so web/build.ts injects the list into the bundle instead of importing it.
 */
declare const __FASHION_MNIST_CLASSES__: string[];
export const LABELS: readonly string[] = __FASHION_MNIST_CLASSES__;
