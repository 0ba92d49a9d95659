/**
 * Copy a finished flatten_deit_fmnist run's weights into weights/flatten_deit_fmnist.safetensors, checked
 * key by key against the registry config, with the recipe in the file's metadata.
 *
 *   npx tsx scripts/ship_weights.ts <run dir> [best|last]
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsFile, writeSafetensorsFile } from '../src/io/safetensors.js';
import { buildNamed } from '../src/models/build.js';
import { bindStateDict } from '../src/nn/state.js';

const [dir, which = 'best'] = process.argv.slice(2);
const src = join(dir, `${which}.safetensors`);
const { tensors } = readSafetensorsFile(src);
const model = buildNamed('flatten_deit_fmnist');
bindStateDict(model.table, tensors, { strict: true, source: src });
const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
  options: Record<string, unknown>;
  best: unknown;
};
const out = 'weights/flatten_deit_fmnist.safetensors';
writeSafetensorsFile(out, tensors, {
  format: 'pt',
  'flatten.model': 'flatten_deit_fmnist',
  'flatten.kwargs': '{}',
  'flatten.recipe': JSON.stringify({ ...state.options, out: undefined, best: state.best }),
});
console.log(`${out}: ${(statSync(out).size / 2 ** 20).toFixed(2)} MB from ${src}`);
