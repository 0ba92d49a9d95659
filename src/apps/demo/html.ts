import { FORMS } from '../../analysis/attention_maps.js';
import { RANK_TOLERANCE_RULE } from '../../analysis/rank.js';
import type { DemoReport } from './demo.js';

/** The demo's one-page report. */
export function demoHtml(r: DemoReport, random: boolean): string {
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const fmt = (v: number | null, d = 3) => (v === null ? '–' : v.toFixed(d));
  const banner = random
    ? `<p style="background:#fdd;padding:8px"><b>RANDOMLY INITIALISED MODEL</b>: no shipped weights were found, so every number below describes random weights.</p>`
    : '';
  const samples = r.samples
    .map(
      (s) =>
        `<td><img src="sample_${s.index}.png" width="84"><br>${s.label}<br><b style="color:${s.label === s.predicted ? 'green' : 'red'}">${s.predicted}</b> ${(s.probability * 100).toFixed(0)}%</td>`,
    )
    .join('');
  const engines = r.engines
    .map(
      (e) =>
        `<tr><td>${e.engine}</td><td>${e.batch}</td><td>${e.ms.toFixed(2)}</td><td>${((e.batch * 1000) / e.ms).toFixed(0)}</td></tr>`,
    )
    .join('');
  const att = r.attention
    .map(
      (a) =>
        `<tr><td>${a.tokens}</td><td>${a.focusedMs.toFixed(2)}</td><td>${a.softmaxMs.toFixed(2)}</td><td>${(a.softmaxMs / a.focusedMs).toFixed(1)}×</td></tr>`,
    )
    .join('');
  const ent = FORMS.map((f) => `<tr><td>${f}</td><td>${fmt(r.entropy[f])}</td></tr>`).join('');
  const ranks = r.ranks
    .map(
      (x) =>
        `<tr><td>${x.block}</td><td>${x.head}</td><td>${x.tokens}</td><td>${x.head_dim}</td><td>${x.rank_linear ?? '–'}</td><td>${x.rank_equivalent ?? '–'}</td><td>${x.rank_softmax ?? '–'}</td></tr>`,
    )
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>flatten-transformer demo</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}td,th{padding:4px 8px;border:1px solid #ddd;text-align:center}</style></head><body>
<h1>FLatten Transformer demo: ${r.model}</h1>${banner}
<p>Weights: ${r.weights}. Generated in ${r.seconds.toFixed(1)} s.</p>
<h2>Fashion-MNIST test split</h2><p>top-1 <b>${pct(r.accuracy.top1)}</b>, top-5 ${pct(r.accuracy.top5)} on ${r.accuracy.images} images (ONNX Runtime, ${r.accuracy.seconds.toFixed(1)} s).</p>
<h2>Samples</h2><table><tr>${samples}</tr></table><p>true label, then the prediction (green when right).</p>
<h2>Focus: mean row entropy of attention (nats, lower = sharper)</h2><p>Over every focused block and head, on the ${r.samples.length} samples; all forms use the model's own q and k.</p><table><tr><th>form</th><th>entropy</th></tr>${ent}</table>
<p><a href="attention/index.html">Attention maps of sample 0</a>: focused vs plain linear vs softmax, per block.</p>
<h2>Rank (SVD, tolerance ${RANK_TOLERANCE_RULE})</h2><img src="rank.png"><table><tr><th>block</th><th>head</th><th>tokens</th><th>head dim</th><th>linear (no DWC)</th><th>with DWC</th><th>softmax</th></tr>${ranks}</table>
<h2>Speed on this machine (median ms)</h2><table><tr><th>engine</th><th>batch</th><th>ms</th><th>images/s</th></tr>${engines}</table>
<table><tr><th>tokens N (C = 64, 1 head)</th><th>focused linear ms</th><th>softmax ms</th><th>softmax / focused</th></tr>${att}</table>
</body></html>`;
}
