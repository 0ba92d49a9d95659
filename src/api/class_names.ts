import { FASHION_MNIST_CLASSES } from '../data/fashion_mnist_classes.js';

/**
 * Class names: Fashion-MNIST for the fmnist model, `imagenet` (ImageNet-1k's, when the caller has them) for
 * 1000-class heads, else indices. Node-free: labels.ts reads ImageNet's from assets/, the browser entry takes them as an option.
 */
export function classNames(name: string, numClasses: number, imagenet?: () => string[]): string[] {
  if (/fmnist/.test(name) && numClasses === FASHION_MNIST_CLASSES.length) return FASHION_MNIST_CLASSES;
  if (numClasses === 1000 && imagenet) return imagenet();
  return Array.from({ length: numClasses }, (_, i) => `class ${i}`);
}
