/** Learning rate at optimizer step `step` (0-based): linear warmup from ~0 to `base`, then cosine down to `min`. */
export function cosineLr(step: number, totalSteps: number, warmupSteps: number, base: number, min: number): number {
  if (step < warmupSteps) return (base * (step + 1)) / warmupSteps;
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
  return min + 0.5 * (base - min) * (1 + Math.cos(Math.PI * progress));
}
