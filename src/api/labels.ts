import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { classNames } from './class_names.js';

const IMAGENET_LABELS = fileURLToPath(new URL('../../assets/imagenet_labels.json', import.meta.url));

/** Class names: Fashion-MNIST for the fmnist model, ImageNet-1k (assets/) for 1000-class heads, else indices. */
export function labelsFor(name: string, numClasses: number): string[] {
  return classNames(name, numClasses, () => JSON.parse(readFileSync(IMAGENET_LABELS, 'utf8')) as string[]);
}
