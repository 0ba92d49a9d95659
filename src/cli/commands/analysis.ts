import { InvalidArgumentError, type Command } from 'commander';
import { attentionMaps, DEFAULT_MAX_TOKENS, featureMaps, rankReport } from '../../api/analysis.js';
import { action, parseEngineOption, parseIntOption, warn } from '../run.js';
import { formatTable } from '../table.js';

function parseQueries(v: string): number[] {
  return v.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`--queries takes token indices like 0,24,48`);
    return n;
  });
}

interface StudyOpts {
  model?: string;
  config?: string;
  checkpoint?: string;
  image: string;
}

/** The model and image options both analyses take. */
function studyOptions(cmd: Command, image: string): Command {
  return cmd
    .option('--model <name>', 'registry model')
    .option('--config <config.json>', 'or a golden-format model config')
    .option('--checkpoint <file>', 'weights (.pth or .safetensors); default: shipped weights')
    .requiredOption('--image <file>', image);
}

/** `flatten attention`, `rank` and `features`: the paper's two pictures and a backbone's, on the user's model. */
export function registerAnalysis(program: Command): void {
  studyOptions(program.command('features'), 'image to look at')
    .description("each stage's feature map as its first three principal components in RGB (PNG + index.html)")
    .requiredOption('--out <dir>', 'output folder (created if missing)')
    .option('--engine <name>', 'tfjs or onnx', parseEngineOption, 'tfjs')
    .action(
      action(async (o: StudyOpts & { out: string; engine: 'tfjs' | 'onnx' }) => {
        const r = await featureMaps({ ...o, warn });
        console.log(
          formatTable(
            ['stage', 'channels', 'map', 'file'],
            r.stages.map((s) => [String(s.stage), String(s.channels), s.size.join('×'), s.file]),
          ),
        );
        console.log(`wrote ${r.index}`);
      }),
    );

  studyOptions(program.command('attention'), 'image to look at')
    .description('draw focused vs plain linear vs softmax attention maps of every focused block (PNG + index.html)')
    .option('--queries <i,j,…>', 'query token indices (default: the centre token of each block)', parseQueries)
    .option('--head <h>', 'head to draw', parseIntOption('--head', 0), 0)
    .requiredOption('--out <dir>', 'output folder (created if missing)')
    .action(
      action(
        async (
          o: StudyOpts & {
            queries?: number[];
            head: number;
            out: string;
          },
        ) => {
          const { blocks, index } = await attentionMaps({ ...o, warn });
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
          console.log(`wrote ${index}`);
        },
      ),
    );

  studyOptions(program.command('rank'), 'image whose q and k are used')
    .description('numerical rank per block and head: linear (no DWC), DWC-equivalent, softmax')
    .option(
      '--max-tokens <n>',
      'skip blocks with more tokens (the dense SVD is O(N³))',
      parseIntOption('--max-tokens'),
      DEFAULT_MAX_TOKENS,
    )
    .option('--out <dir>', 'also write rank.json and a rank.png bar chart here')
    .option('--json', 'print JSON')
    .action(
      action(
        async (
          o: StudyOpts & {
            maxTokens: number;
            out?: string;
            json?: boolean;
          },
        ) => {
          const report = await rankReport({ ...o, warn });
          const rows = report.blocks;
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
          console.log(`tolerance: ${report.tolerance}`);
        },
      ),
    );
}
