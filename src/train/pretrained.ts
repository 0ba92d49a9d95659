import { FlattenError } from '../core/errors.js';
import type { StateDict, TensorData } from '../core/tensor.js';
import { readStateDict } from '../nn/checkpoint.js';
import { initWeights } from '../nn/init.js';
import type { ParamTable } from '../nn/module.js';
import { bindStateDict } from '../nn/state.js';

const isHead = (k: string) => k === 'head.weight' || k === 'head.bias';

/**
 * Weights for fine-tuning: every key of an official-format checkpoint (.pth or .safetensors) except the
 * classifier, which starts fresh (seeded) so that --num-classes may differ. Any other missing, unexpected
 * or mis-shaped key is an error that names it: a checkpoint of another model never half-loads.
 */
export function loadPretrained(table: ParamTable, file: string | StateDict, seed: number): Map<string, TensorData> {
  const sd = typeof file === 'string' ? readStateDict(file) : file;
  const body: StateDict = new Map([...sd].filter(([k]) => !isHead(k)));
  const source = typeof file === 'string' ? file : 'pretrained state_dict';
  const { weights, missing } = bindStateDict(table, body, { strict: false, source });
  const missingBody = missing.filter((k) => !isHead(k));
  const unexpected = [...body.keys()].filter((k) => !table.specs.has(k));
  const problems = [];
  if (missingBody.length)
    problems.push(
      `missing key(s): ${missingBody
        .slice(0, 8)
        .map((k) => `'${k}'`)
        .join(', ')}${missingBody.length > 8 ? ` and ${missingBody.length - 8} more` : ''}`,
    );
  if (unexpected.length)
    problems.push(
      `unexpected key(s): ${unexpected
        .slice(0, 8)
        .map((k) => `'${k}'`)
        .join(', ')}${unexpected.length > 8 ? ` and ${unexpected.length - 8} more` : ''}`,
    );
  if (problems.length)
    throw new FlattenError('BAD_KEYS', `--pretrained ${source} does not fit this model: ${problems.join('. ')}`);
  const fresh = initWeights(table, seed);
  for (const k of missing) weights.set(k, fresh.get(k)!);
  return weights;
}
