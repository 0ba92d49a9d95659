#!/usr/bin/env node
// Fails when a file under src/ imports from a layer above its own (order in scripts/layers.json).
// Usage: node scripts/check_layers.mjs [--root DIR] [--config FILE]; exits 1 listing every offending import.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const here = dirname(fileURLToPath(import.meta.url));
const root = flag('--root', join(here, '..', 'src'));
const { layers } = JSON.parse(readFileSync(flag('--config', join(here, 'layers.json')), 'utf8'));

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(ts|mts|js|mjs)$/.test(name)) yield p;
  }
}

/** The layer a path under root belongs to: its first folder, or the file name at the top. */
const layerOf = (path) => relative(root, path).split(sep)[0];

const problems = [];
for (const file of files(root)) {
  const from = layerOf(file);
  const rule = layers[from];
  if (!rule) {
    problems.push(`${relative(root, file)}: layer '${from}' is not listed in layers.json`);
    continue;
  }
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = normalize(join(dirname(file), m[1]));
    if (relative(root, target).startsWith('..')) continue; // outside src: not a layer
    const to = layerOf(target);
    if (to === from) continue;
    const toRule = layers[to];
    const ok = toRule && toRule.rank < rule.rank && (!rule.only || rule.only.includes(to));
    if (!ok) problems.push(`${relative(root, file)}: imports '${m[1]}' (${from} → ${to})`);
  }
}
if (problems.length) {
  console.error(`layering: ${problems.length} import(s) break the order in scripts/layers.json:`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log('layering: ok');
