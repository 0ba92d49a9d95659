import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FASHION_MNIST_CLASSES } from '../data/fashion_mnist.js';

const IMAGENET_LABELS = fileURLToPath(new URL('../../assets/imagenet_labels.json', import.meta.url));

/** Class names: Fashion-MNIST for the fmnist model, ImageNet-1k (assets/) for 1000-class heads, else indices. */
export function labelsFor(name: string, numClasses: number): string[] {
  if (/fmnist/.test(name) && numClasses === FASHION_MNIST_CLASSES.length) return FASHION_MNIST_CLASSES;
  if (numClasses === 1000) return JSON.parse(readFileSync(IMAGENET_LABELS, 'utf8')) as string[];
  return Array.from({ length: numClasses }, (_, i) => `class ${i}`);
}
