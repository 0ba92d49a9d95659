/**
 * The attention grid: one row per focused block, one column per attention form, each cell the chosen
 * query's attention over the key tokens as a heat map, with that row's entropy.
 */
import {
  attentionWeights,
  meanRowEntropy,
  type AttentionForm,
  type FocusedCapture,
} from 'flatten-transformer/web/analysis';
import { cellAt, drawHeatMap } from './heatmap.js';

/** Left to right: the quadratic reference, the plain linear baseline, then the paper's two steps. */
const COLUMNS: { form: AttentionForm; title: string; note: string }[] = [
  { form: 'softmax', title: 'Softmax', note: 'softmax(qkᵀ/√d), the O(N²) reference' },
  { form: 'linear', title: 'Plain linear', note: 'ReLU(q)·ReLU(k)ᵀ, O(N) but diffuse' },
  { form: 'focused', title: 'Focused linear', note: 'φp(q)·φp(k)ᵀ, sharpened by the focusing map' },
  { form: 'focused_dwc', title: 'Focused + DWC', note: 'plus the depthwise conv’s local term (|M_eq|)' },
];
const MAP_PX = 150;

export interface AttentionState {
  blocks: FocusedCapture[];
  image: Float32Array;
  /** Query token index: 0 is the cls token, 1 + r·7 + c the patch at row r, column c. */
  query: number;
  head: number;
}

/** Rebuild the grid into `root`; clicking a map picks the clicked cell as the new query. */
export function renderAttention(root: HTMLElement, s: AttentionState, pick: (query: number) => void): void {
  const table = document.createElement('table');
  table.className = 'maps';
  const head = table.createTHead().insertRow();
  head.appendChild(document.createElement('th'));
  for (const c of COLUMNS) {
    const th = document.createElement('th');
    th.innerHTML = `<span class="title"></span><span class="note"></span>`;
    th.querySelector('.title')!.textContent = c.title;
    th.querySelector('.note')!.textContent = c.note;
    head.appendChild(th);
  }
  const body = table.createTBody();
  s.blocks.forEach((cap, b) => {
    const row = body.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = `Block ${b + 1}`;
    row.appendChild(th);
    const [gh, gw] = cap.hw!; // every FLatten-DeiT block reports its token map
    const lead = cap.tokens - gh * gw;
    for (const c of COLUMNS) {
      const cell = row.insertCell();
      const weights = attentionWeights(cap, s.head, c.form);
      if (!weights) {
        cell.textContent = 'n/a';
        continue;
      }
      const p = weights.subarray(s.query * cap.keys, (s.query + 1) * cap.keys);
      const canvas = document.createElement('canvas');
      canvas.className = 'heatmap';
      canvas.dataset.block = String(b);
      canvas.dataset.form = c.form;
      canvas.title = `${c.title}, block ${b + 1}: click a cell to query from there`;
      drawHeatMap(
        canvas,
        s.image,
        { values: p.subarray(lead), grid: gw, query: s.query >= lead ? s.query - lead : undefined },
        MAP_PX,
      );
      canvas.addEventListener('click', (e) => pick(lead + cellAt(canvas, e, gw)));
      const caption = document.createElement('div');
      caption.className = 'caption';
      const cls = lead > 0 ? ` · cls ${(100 * p[0]).toFixed(0)}%` : '';
      caption.textContent = `H = ${meanRowEntropy(p, 1, cap.keys).toFixed(2)} nats${cls}`;
      cell.append(canvas, caption);
    }
  });
  root.replaceChildren(table);
}
