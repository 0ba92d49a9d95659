import type { Sample } from './shared.js';

export async function loadSamples(): Promise<Sample[]> {
  const res = await fetch('samples/samples.json');
  if (!res.ok) throw new Error(`samples/samples.json: HTTP ${res.status}`);
  return (await res.json()) as Sample[];
}
