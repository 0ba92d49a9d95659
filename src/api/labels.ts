import { readFileSync } from 'node:fs';
import { PACKAGE_ROOT } from './model.js';

/** Class names shipped in assets/: Fashion-MNIST for the fmnist model, ImageNet-1k for 1000-class heads. */
export function labelsFor(name: string, numClasses: number): string[] {
  const file = /fmnist/.test(name) && numClasses === 10 ? 'fashion_mnist_labels.json' : numClasses === 1000 ? 'imagenet_labels.json' : undefined;
  if (!file) return Array.from({ length: numClasses }, (_, i) => `class ${i}`);
  return JSON.parse(readFileSync(`${PACKAGE_ROOT}assets/${file}`, 'utf8')) as string[];
}
