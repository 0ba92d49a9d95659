import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { FlattenError } from '../core/errors.js';
import { regularFileExists } from '../io/files.js';
import { writePthFile } from '../io/pth_write.js';
import { writeSafetensorsFile } from '../io/safetensors.js';
import { readStateDict } from '../nn/checkpoint.js';

export type CheckpointFormat = 'pth' | 'safetensors';

/** The format a checkpoint's name says: `.pth`/`.pt` (torch.save's zip) or `.safetensors`. */
export function formatOf(path: string, what: string): CheckpointFormat {
  if (/\.(pth|pt)$/i.test(path)) return 'pth';
  if (/\.safetensors$/i.test(path)) return 'safetensors';
  throw new FlattenError('BAD_ARGUMENT', `${what} ${path}: unknown extension; use .pth, .pt or .safetensors`);
}

export interface ConvertSpec {
  input: string;
  output: string;
  /** Replace an existing output file. */
  overwrite?: boolean;
}

export interface ConvertSummary {
  from: CheckpointFormat;
  to: CheckpointFormat;
  tensors: number;
  parameters: number;
}

/** The same file under two names (a link, `./a` and `a`) counts as the same. */
const samePath = (a: string, b: string) => {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
};

/**
 * `flatten convert`: a state_dict between torch.save's `.pth` and `.safetensors`, keys and tensors as they are.
 * A `.pth` is written as `{'model': state_dict}`, what the official training code loads (and what it saves); from
 * a `.pth`, only the weights are kept (the state_dict under 'model', 'state_dict', … or a bare one).
 */
export function convertCheckpoint(spec: ConvertSpec): ConvertSummary {
  const from = formatOf(spec.input, 'input');
  const to = formatOf(spec.output, 'output');
  if (samePath(spec.input, spec.output))
    throw new FlattenError('BAD_ARGUMENT', `${spec.output}: the output is the input; write to another file`);
  if (regularFileExists(spec.output) && !spec.overwrite)
    throw new FlattenError('BAD_ARGUMENT', `${spec.output}: exists (pass --overwrite to replace it)`);
  const sd = readStateDict(spec.input);
  if (to === 'pth') writePthFile(spec.output, sd);
  // {"format": "pt"}: what safetensors' own torch helpers record, so their loaders take the file as torch weights
  else writeSafetensorsFile(spec.output, sd, { format: 'pt' });
  const parameters = [...sd.values()].reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  return { from, to, tensors: sd.size, parameters };
}
