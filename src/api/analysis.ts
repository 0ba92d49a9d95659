import { join } from 'node:path';
import { FlattenError } from '../core/errors.js';
import { toBatch } from '../io/image.js';
import { writeFileAtomic } from '../io/files.js';
import { captureFocused } from '../analysis/capture.js';
import { attentionHtml, attentionStudy, prepareOutDir, type BlockFocus } from '../analysis/report.js';
import { blockRanks, DEFAULT_MAX_TOKENS, rankChartPng, RANK_TOLERANCE_RULE, type RankRow } from '../analysis/rank.js';
import { toRgb } from '../analysis/render.js';
import { prepareFor } from './classify.js';
import { loadModelArg, warnIfRandom, type ModelArg } from './model.js';

export { DEFAULT_MAX_TOKENS, RANK_TOLERANCE_RULE, type BlockFocus, type RankRow };

/** Which model and image to study; `warn` hears the one line said when the model has random weights. */
export interface StudyOptions extends ModelArg {
  image: string;
  warn?: (line: string) => void;
}

const text = (s: string) => new TextEncoder().encode(s);

async function modelAndImage(o: StudyOptions) {
  const m = loadModelArg(o);
  warnIfRandom(m, o.warn);
  const [img] = await prepareFor(m, [o.image]);
  return { m, img, input: toBatch([img], m.preprocess) };
}

export interface AttentionMapOptions extends StudyOptions {
  /** Query token indices (default: the centre token of each block). */
  queries?: number[];
  /** Head to draw (default 0). */
  head?: number;
  /** Output folder: one PNG per block, form and query, and index.html. */
  out: string;
}

/**
 * The paper's focus picture: for every focused block, where the chosen queries attend under softmax,
 * plain linear, focused and focused + DWC attention, computed from the model's own q and k.
 */
export async function attentionMaps(o: AttentionMapOptions): Promise<{ blocks: BlockFocus[]; index: string }> {
  prepareOutDir(o.out);
  const { m, img, input } = await modelAndImage(o);
  const rgb = toRgb(img.pixels, img.size, img.channels);
  const { blocks } = await attentionStudy(m.model, m.weights, input, rgb, {
    queries: o.queries,
    head: o.head ?? 0,
    out: o.out,
  });
  const index = join(o.out, 'index.html');
  writeFileAtomic(index, text(attentionHtml(`${m.name} on ${o.image}`, blocks)));
  return { blocks, index };
}

export interface RankOptions extends StudyOptions {
  /** Skip blocks with more tokens (the dense SVD is O(N³)). */
  maxTokens?: number;
  /** Also write rank.json and a rank.png bar chart here. */
  out?: string;
}

export interface RankReport {
  model: string;
  weights: string;
  tolerance: string;
  blocks: RankRow[];
}

/** The paper's rank picture: numerical rank per block and head of linear (no DWC), with DWC, and softmax. */
export async function rankReport(o: RankOptions): Promise<RankReport> {
  if (o.out) prepareOutDir(o.out);
  const { m, input } = await modelAndImage(o);
  const { blocks } = await captureFocused(m.model, m.weights, input);
  if (!blocks.length) throw new FlattenError('BAD_CONFIG', `${m.name} has no focused linear attention blocks`);
  const rows = blocks.flatMap((b) => blockRanks(b, o.maxTokens ?? DEFAULT_MAX_TOKENS));
  const report = { model: m.name, weights: m.source, tolerance: RANK_TOLERANCE_RULE, blocks: rows };
  if (o.out) {
    writeFileAtomic(join(o.out, 'rank.json'), text(JSON.stringify(report, null, 2)));
    writeFileAtomic(join(o.out, 'rank.png'), await rankChartPng(`${m.name}: numerical rank per block/head`, rows));
  }
  return report;
}
