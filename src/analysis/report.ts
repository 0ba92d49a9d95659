import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FlattenError } from '../core/errors.js';
import type { TensorData } from '../core/tensor.js';
import { writeFileAtomic } from '../io/files.js';
import type { VisionModel } from '../models/model.js';
import { attentionWeights, FORM_LABELS, FORMS, meanRowEntropy, type AttentionForm } from './attention_maps.js';
import { captureFocused, type FocusedCapture } from './capture.js';
import { esc, overlay, pngFromRgb, type Rgb } from './render.js';

export interface BlockFocus {
  block: string;
  tokens: number;
  keys: number;
  heads: number;
  /** Mean row entropy (nats) per form, averaged over heads; null where a form does not apply. */
  entropy: Record<AttentionForm, number | null>;
  /** PNG file names per form and query. */
  images: Record<AttentionForm, string[]>;
  queries: number[];
  note?: string;
}

/** An --out folder must be a folder (made if missing); checked before anything is written. */
export function prepareOutDir(out: string): void {
  try {
    if (!statSync(out).isDirectory())
      throw new FlattenError('BAD_ARGUMENT', `--out ${out} is an existing file, not a folder`);
  } catch (e) {
    if (e instanceof FlattenError) throw e;
    mkdirSync(out, { recursive: true });
  }
}

/** Side lengths of the key grid: the DWC map, or a square of the reduced keys (PVT sr > 1). */
function keyGrid(cap: FocusedCapture): { grid: [number, number]; lead: number } {
  const hw = cap.hw ?? [Math.round(Math.sqrt(cap.tokens)), Math.round(Math.sqrt(cap.tokens))];
  const lead = cap.tokens - hw[0] * hw[1]; // DeiT's cls token
  if (cap.keys === cap.tokens) return { grid: hw, lead };
  const s = Math.round(Math.sqrt(cap.keys));
  return { grid: [s, s], lead: 0 };
}

/** Default query: the token at the centre of the map. */
function centreQuery(cap: FocusedCapture): number {
  const { grid, lead } = keyGrid({ ...cap, keys: cap.tokens });
  return lead + Math.floor(grid[0] / 2) * grid[1] + Math.floor(grid[1] / 2);
}

/**
 * Capture every focused block of `model` on one image and compute, per block, the four attention forms'
 * mean row entropy (all heads) and, for `head` and the chosen queries, a heat-map PNG overlaid on the image.
 * Nothing is written when `out` is undefined.
 */
export async function attentionStudy(
  model: VisionModel,
  weights: Map<string, TensorData>,
  input: TensorData,
  img: Rgb,
  opts: { queries?: number[]; head?: number; out?: string },
): Promise<{ logits: TensorData; blocks: BlockFocus[] }> {
  const { logits, blocks } = await captureFocused(model, weights, input);
  if (!blocks.length)
    throw new FlattenError(
      'BAD_CONFIG',
      `this model has no focused linear attention blocks (all of its stages are softmax): nothing to draw`,
    );
  const head = opts.head ?? 0;
  for (const b of blocks) {
    if (head >= b.heads)
      throw new FlattenError('BAD_ARGUMENT', `--head ${head} is out of range for ${b.block} (${b.heads} heads)`);
    for (const q of opts.queries ?? []) {
      if (!Number.isInteger(q) || q < 0 || q >= b.tokens)
        throw new FlattenError(
          'BAD_ARGUMENT',
          `query ${q} is out of range for ${b.block}, which has ${b.tokens} tokens (0…${b.tokens - 1})`,
        );
    }
  }
  const out: BlockFocus[] = [];
  const pngs: [string, Promise<Buffer>][] = [];
  for (const b of blocks) {
    const queries = opts.queries ?? [centreQuery(b)];
    const entropy = {} as Record<AttentionForm, number | null>;
    const images = {} as Record<AttentionForm, string[]>;
    const { grid, lead } = keyGrid(b);
    const qGrid = keyGrid({ ...b, keys: b.tokens });
    // windowed blocks show their first window: the top-left w×w cells of the map
    const frac = b.mapSize && b.hw ? b.hw[0] / b.mapSize : 1;
    for (const form of FORMS) {
      let sum = 0;
      let count = 0;
      let w0: Float64Array | undefined;
      for (let h = 0; h < b.heads; h++) {
        const w = attentionWeights(b, h, form);
        if (!w) break;
        sum += meanRowEntropy(w, b.tokens, b.keys);
        count++;
        if (h === head) w0 = w;
      }
      entropy[form] = count ? sum / count : null;
      images[form] = [];
      if (!w0 || !opts.out) continue;
      for (const q of queries) {
        const values = w0.subarray(q * b.keys + lead, (q + 1) * b.keys);
        const file = `${b.block || 'attn'}_q${q}_${form}.png`;
        const qi = q - qGrid.lead;
        const pixels = overlay(img, {
          values,
          grid,
          region: [0, 0, frac, frac],
          query: qi >= 0 ? { index: qi, grid: qGrid.grid } : undefined,
        });
        pngs.push([file, pngFromRgb(pixels, img.size)]);
        images[form].push(file);
      }
    }
    out.push({
      block: b.block,
      tokens: b.tokens,
      keys: b.keys,
      heads: b.heads,
      entropy,
      images,
      queries,
      note:
        frac < 1
          ? `windowed block: the first ${b.hw![0]}×${b.hw![1]} window${b.shift ? ` (cyclically shifted by ${b.shift})` : ''}`
          : undefined,
    });
  }
  if (opts.out) {
    prepareOutDir(opts.out);
    for (const [file, png] of pngs) writeFileAtomic(join(opts.out, file), new Uint8Array(await png));
  }
  return { logits, blocks: out };
}

/** The side-by-side HTML report of an attention study. */
export function attentionHtml(title: string, blocks: BlockFocus[], extra = ''): string {
  const fmt = (v: number | null) => (v === null ? '–' : v.toFixed(3));
  const sections = blocks.map((b) => {
    const header = FORMS.map(
      (f) => `<th>${esc(FORM_LABELS[f])}<br><small>entropy ${fmt(b.entropy[f])}</small></th>`,
    ).join('');
    const rows = b.queries.map(
      (q, i) =>
        `<tr><td>query ${q}</td>${FORMS.map((f) => `<td>${b.images[f][i] ? `<img src="${esc(b.images[f][i])}" width="224">` : '–'}</td>`).join('')}</tr>`,
    );
    return `<h2>${esc(b.block)}</h2><p>${b.tokens} queries × ${b.keys} keys, ${b.heads} head(s)${b.note ? `; ${esc(b.note)}` : ''}</p><table><tr><th></th>${header}</tr>${rows.join('')}</table>`;
  });
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}td,th{padding:4px;border:1px solid #ddd;text-align:center;vertical-align:top}</style></head>
<body><h1>${esc(title)}</h1>
<p>Each map shows where one query token (red) attends, for head 0, overlaid as in the official visualize.py (blue = high). Entropy is the mean Shannon entropy (nats) of all attention rows, averaged over heads: lower is more focused. Focused linear = the model's φ_p(q)φ_p(k)ᵀ; + DWC = |that + M_DWC| with channel 0 of the depthwise kernel (exact 2-D borders); plain ReLU linear and softmax use the same q and k.</p>
${extra}
${sections.join('\n')}
</body></html>`;
}
