import { join } from 'node:path';
import { FlattenError } from '../core/errors.js';
import { toBatch } from '../io/image.js';
import { writeFileAtomic } from '../io/files.js';
import { captureFocused } from '../analysis/capture.js';
import { attentionHtml, attentionStudy, prepareOutDir, type BlockFocus } from '../analysis/report.js';
import { blockRanks, DEFAULT_MAX_TOKENS, rankChartPng, RANK_TOLERANCE_RULE, type RankRow } from '../analysis/rank.js';
import { pcaRgb } from '../analysis/pca.js';
import { esc, pngFromRgb, toRgb } from '../analysis/render.js';
import { prepareFor } from './classify.js';
import type { EngineName } from './engine.js';
import { forwardIntermediates } from './features.js';
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

export interface FeatureMapOptions extends StudyOptions {
  /** Output folder: the input, one PCA picture per stage, and index.html. */
  out: string;
  /** 'tfjs' (default) or 'onnx'. */
  engine?: EngineName;
}

export interface FeatureMapReport {
  index: string;
  stages: { stage: number; channels: number; size: [number, number]; file: string }[];
}

/**
 * A backbone's features as people look at them: each stage's map, its first three principal components as RGB
 * (a PNG per stage, nearest-upscaled to at least 224 px), beside the input, in one page.
 */
export async function featureMaps(o: FeatureMapOptions): Promise<FeatureMapReport> {
  prepareOutDir(o.out);
  const { m, img, input } = await modelAndImage(o);
  const { intermediates } = await forwardIntermediates(m, input, { engine: o.engine });
  const write = async (file: string, rgb: { size: number; data: Uint8Array }) =>
    writeFileAtomic(join(o.out, file), new Uint8Array(await pngFromRgb(rgb.data, rgb.size)));
  await write('input.png', toRgb(img.pixels, img.size, img.channels));
  const stages: FeatureMapReport['stages'] = [];
  for (const [i, map] of intermediates.entries()) {
    const [, c, h, w] = map.shape;
    const file = `stage${i}.png`;
    await write(file, toRgb(pcaRgb(map.data as Float32Array, c, h * w), h, 3)); // stage maps are square
    stages.push({ stage: i, channels: c, size: [h, w], file });
  }
  const cells = stages
    .map((s) => `<td><img src="${s.file}" width="224"><br>stage ${s.stage}: ${s.channels} ch, ${s.size.join('×')}</td>`)
    .join('');
  const page = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(m.name)} features</title></head><body>
<h1>${esc(m.name)}: stage features on ${esc(o.image)}</h1><p>First three principal components of each stage's channels as RGB.</p>
<table><tr><td><img src="input.png" width="224"><br>input</td>${cells}</tr></table></body></html>`;
  const index = join(o.out, 'index.html');
  writeFileAtomic(index, text(page));
  return { index, stages };
}
