import { join } from 'node:path';
import type { Command } from 'commander';
import { prepareFor } from '../../api/classify.js';
import { loadModelArg } from '../../api/model.js';
import { toBatch } from '../../io/image.js';
import { writeFileAtomic } from '../../io/files.js';
import { captureFocused } from '../../analysis/capture.js';
import { attentionHtml, attentionStudy, prepareOutDir } from '../../analysis/report.js';
import { blockRanks, DEFAULT_MAX_TOKENS, RANK_TOLERANCE_RULE, type RankRow } from '../../analysis/rank.js';
import { barChartSvg, pngFromSvg, toRgb } from '../../analysis/render.js';
import { FlattenError } from '../../core/errors.js';
import { action, parseIntOption } from '../run.js';
import { formatTable } from '../table.js';

const text = (s: string) => new TextEncoder().encode(s);

function parseQueries(v: string): number[] {
  return v.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0)
      throw new FlattenError('BAD_ARGUMENT', `--queries takes token indices like 0,24,48; got '${s}'`);
    return n;
  });
}

async function modelAndImage(o: { model?: string; config?: string; checkpoint?: string; image: string }) {
  const m = loadModelArg(o);
  if (m.source === 'random')
    console.error(
      `flatten: warning: ${m.name} has no weights here; using a RANDOMLY INITIALISED model (pass --checkpoint)`,
    );
  const [img] = await prepareFor(m, [o.image]);
  return { m, img, input: toBatch([img], m.preprocess) };
}

/** `flatten attention` and `flatten rank`: the paper's two pictures, on the user's model and image. */
export function registerAnalysis(program: Command): void {
  program
    .command('attention')
    .description('draw focused vs plain linear vs softmax attention maps of every focused block (PNG + index.html)')
    .option('--model <name>', 'registry model')
    .option('--config <config.json>', 'or a golden-format model config')
    .option('--checkpoint <file>', 'weights (.pth or .safetensors); default: shipped weights')
    .requiredOption('--image <file>', 'image to look at')
    .option('--queries <i,j,…>', 'query token indices (default: the centre token of each block)', parseQueries)
    .option('--head <h>', 'head to draw', parseIntOption('--head', 0), 0)
    .requiredOption('--out <dir>', 'output folder (created if missing)')
    .action(
      action(
        async (o: {
          model?: string;
          config?: string;
          checkpoint?: string;
          image: string;
          queries?: number[];
          head: number;
          out: string;
        }) => {
          prepareOutDir(o.out);
          const { m, img, input } = await modelAndImage(o);
          const rgb = toRgb(img.pixels, img.size, img.channels);
          const { blocks } = await attentionStudy(m.model, m.weights, input, rgb, {
            queries: o.queries,
            head: o.head,
            out: o.out,
          });
          writeFileAtomic(join(o.out, 'index.html'), text(attentionHtml(`${m.name} on ${o.image}`, blocks)));
          console.log(
            formatTable(
              ['block', 'tokens', 'H focused', 'H +DWC', 'H linear', 'H softmax'],
              blocks.map((b) => [
                b.block,
                String(b.tokens),
                ...(['focused', 'focused_dwc', 'linear', 'softmax'] as const).map(
                  (f) => b.entropy[f]?.toFixed(3) ?? '–',
                ),
              ]),
            ),
          );
          console.log(`wrote ${join(o.out, 'index.html')}`);
        },
      ),
    );

  program
    .command('rank')
    .description('numerical rank per block and head: linear (no DWC), DWC-equivalent, softmax')
    .option('--model <name>', 'registry model')
    .option('--config <config.json>', 'or a golden-format model config')
    .option('--checkpoint <file>', 'weights (.pth or .safetensors); default: shipped weights')
    .requiredOption('--image <file>', 'image whose q and k are used')
    .option(
      '--max-tokens <n>',
      `skip blocks with more tokens (dense SVD is O(N³); default ${DEFAULT_MAX_TOKENS})`,
      parseIntOption('--max-tokens'),
      DEFAULT_MAX_TOKENS,
    )
    .option('--out <dir>', 'also write rank.json and a rank.png bar chart here')
    .option('--json', 'print JSON')
    .action(
      action(
        async (o: {
          model?: string;
          config?: string;
          checkpoint?: string;
          image: string;
          maxTokens: number;
          out?: string;
          json?: boolean;
        }) => {
          if (o.out) prepareOutDir(o.out);
          const { m, input } = await modelAndImage(o);
          const { blocks } = await captureFocused(m.model, m.weights, input);
          if (!blocks.length) throw new FlattenError('BAD_CONFIG', `${m.name} has no focused linear attention blocks`);
          const rows: RankRow[] = blocks.flatMap((b) => blockRanks(b, o.maxTokens));
          const report = { model: m.name, weights: m.source, tolerance: RANK_TOLERANCE_RULE, blocks: rows };
          if (o.out) {
            writeFileAtomic(join(o.out, 'rank.json'), text(JSON.stringify(report, null, 2)));
            const svg = barChartSvg(
              `${m.name}: numerical rank per block/head`,
              rows.map((r) => `${r.block}#${r.head}`),
              [
                { label: 'linear, no DWC', colour: '#999999', values: rows.map((r) => r.rank_linear) },
                { label: 'with DWC (M_eq)', colour: '#2255cc', values: rows.map((r) => r.rank_equivalent) },
                { label: 'softmax', colour: '#dd8800', values: rows.map((r) => r.rank_softmax) },
              ],
              'rank',
            );
            writeFileAtomic(join(o.out, 'rank.png'), new Uint8Array(await pngFromSvg(svg)));
          }
          if (o.json) {
            console.log(JSON.stringify(report, null, 2));
            return;
          }
          const v = (x: number | null) => (x === null ? '–' : String(x));
          console.log(
            formatTable(
              ['block', 'head', 'tokens', 'head_dim', 'linear', 'with DWC', 'softmax', 'note'],
              rows.map((r) => [
                r.block,
                String(r.head),
                String(r.tokens),
                String(r.head_dim),
                v(r.rank_linear),
                v(r.rank_equivalent),
                v(r.rank_softmax),
                r.note ?? '',
              ]),
            ),
          );
          console.log(`tolerance: ${RANK_TOLERANCE_RULE}`);
        },
      ),
    );
}
