import { mkdirSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { modelInfo } from '../src/api/info.js';
import { buildNamed } from '../src/models/build.js';
import type { EpochMetrics } from '../src/train/trainer.js';

export interface AblationSetup {
  model: string;
  seeds: number[];
  perClass: number;
  testPerClass: number;
  epochs: number;
  batchSize: number;
  lr: number;
  warmupEpochs: number;
}

export interface AblationRun {
  variant: string;
  seed: number;
  history: EpochMetrics[];
}

const LABELS: Record<string, string> = {
  softmax: 'Softmax attention (DeiT)',
  linear: 'Plain linear (ReLU, no f_p, no DWC)',
  focused: '+ focused function f_p (no DWC)',
  flatten: '+ DWC = FLatten (f_p + DWC)',
};
const COLORS: Record<string, string> = {
  softmax: '#444444',
  linear: '#d62728',
  focused: '#ff7f0e',
  flatten: '#1f77b4',
};

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

/** A line chart of per-epoch values (mean over seeds) per variant, as SVG. */
function chartSvg(title: string, yLabel: string, series: { variant: string; ys: number[] }[]): string {
  const W = 640;
  const H = 400;
  const m = { l: 60, r: 20, t: 36, b: 44 };
  const all = series.flatMap((s) => s.ys);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const pad = (hi - lo) * 0.05 || 0.01;
  const n = Math.max(...series.map((s) => s.ys.length));
  const x = (i: number) => m.l + ((W - m.l - m.r) * i) / Math.max(1, n - 1);
  const y = (v: number) => H - m.b - ((H - m.t - m.b) * (v - lo + pad)) / (hi - lo + 2 * pad);
  const ticks = Array.from({ length: 5 }, (_, i) => lo - pad + ((hi - lo + 2 * pad) * i) / 4);
  const lines = series.map(
    (s) =>
      `<polyline fill="none" stroke="${COLORS[s.variant]}" stroke-width="2.5" points="${s.ys.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`,
  );
  const legend = series.map(
    (s, i) =>
      `<rect x="${W - 300}" y="${m.t + 8 + i * 20}" width="14" height="4" fill="${COLORS[s.variant]}"/><text x="${W - 280}" y="${m.t + 14 + i * 20}" font-size="12">${LABELS[s.variant]}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="22" font-size="15" text-anchor="middle">${title}</text>
<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>
${ticks.map((v) => `<text x="${m.l - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v.toFixed(3)}</text><line x1="${m.l}" y1="${y(v)}" x2="${W - m.r}" y2="${y(v)}" stroke="#ddd"/>`).join('\n')}
${Array.from({ length: n }, (_, i) => `<text x="${x(i)}" y="${H - m.b + 16}" font-size="11" text-anchor="middle">${i + 1}</text>`).join('\n')}
<text x="${W / 2}" y="${H - 8}" font-size="12" text-anchor="middle">epoch</text>
<text x="16" y="${H / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">${yLabel}</text>
${lines.join('\n')}
${legend.join('\n')}
</svg>`;
}

/** docs/ablation.md, docs/ablation/results.json and the learning-curve PNGs from finished runs. */
export async function writeReport(setup: AblationSetup, runs: AblationRun[]): Promise<void> {
  mkdirSync('docs/ablation', { recursive: true });
  const variants = ['softmax', 'linear', 'focused', 'flatten'].filter((v) => runs.some((r) => r.variant === v));
  const rows = variants.map((variant) => {
    const rs = runs.filter((r) => r.variant === variant);
    const info = modelInfo(buildNamed(setup.model, { attn_type: variant }));
    const top1 = meanStd(rs.map((r) => 100 * r.history.at(-1)!.test!.top1));
    const seconds = meanStd(rs.map((r) => r.history.reduce((a, h) => a + h.epoch_seconds, 0)));
    const ips = meanStd(rs.map((r) => r.history.reduce((a, h) => a + h.images_per_sec, 0) / r.history.length));
    return {
      variant,
      seeds: rs.map((r) => r.seed),
      top1,
      perSeed: rs.map((r) => 100 * r.history.at(-1)!.test!.top1),
      params: info.parameters,
      macs: info.macs,
      seconds,
      ips,
    };
  });
  writeFileSync('docs/ablation/results.json', `${JSON.stringify({ setup, summary: rows, runs }, null, 1)}\n`);
  const curve = (key: (h: EpochMetrics) => number) =>
    variants.map((variant) => {
      const rs = runs.filter((r) => r.variant === variant);
      return { variant, ys: rs[0].history.map((_, e) => rs.reduce((a, r) => a + key(r.history[e]), 0) / rs.length) };
    });
  await sharp(
    Buffer.from(
      chartSvg(
        'Training loss (label-smoothed CE), mean over seeds',
        'train loss',
        curve((h) => h.train_loss),
      ),
    ),
  )
    .png()
    .toFile('docs/ablation/train_loss.png');
  await sharp(
    Buffer.from(
      chartSvg(
        'Training top-1 (augmented batches), mean over seeds',
        'train top-1',
        curve((h) => h.train_top1),
      ),
    ),
  )
    .png()
    .toFile('docs/ablation/train_top1.png');
  const order = [...rows]
    .sort((a, b) => a.top1.mean - b.top1.mean)
    .map((r) => `${r.variant} ${r.top1.mean.toFixed(2)}`);
  const table = rows
    .map(
      (r) =>
        `| ${LABELS[r.variant]} | ${r.top1.mean.toFixed(2)} ± ${r.top1.std.toFixed(2)} | ${r.perSeed.map((v) => v.toFixed(2)).join(', ')} | ${(r.params / 1e3).toFixed(1)}k | ${(r.macs / 1e6).toFixed(2)}M | ${r.seconds.mean.toFixed(0)} s | ${r.ips.mean.toFixed(1)} |`,
    )
    .join('\n');
  writeFileSync(
    'docs/ablation/table.md',
    `| Variant | Test top-1 % (mean ± std) | per seed | Params | MACs/image | Train time/run | Train img/s |\n|---|---|---|---|---|---|---|\n${table}\n\nOrder found (low → high): ${order.join(' < ')}\n`,
  );
}
