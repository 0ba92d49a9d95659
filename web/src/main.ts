/**
 * The demo page: wires the input, the model and the two views. State the e2e test waits on is kept in
 * data attributes: body[data-model] ('loading' | 'ready' | 'error') and #predictions[data-input] (the
 * source of the input the shown results belong to).
 */
import { renderAttention } from './attention_view.js';
import { cellAt, drawLegend, drawTokenGrid } from './heatmap.js';
import { InputCanvas, samplePixels, uploadPixels } from './input.js';
import { LABELS } from './labels.js';
import { analyse, loadModel, type Analysis, type LoadedModel } from './model.js';
import { renderPredictions } from './predictions.js';
import { loadSamples } from './samples.js';
import type { Sample } from './shared.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const input = new InputCanvas($<HTMLCanvasElement>('input'));
const status = $('status');
const predictions = $('predictions');
const picker = $<HTMLCanvasElement>('query');
let model: LoadedModel | undefined;
/** Latest results and the pixels they were computed from (the maps are drawn over those). */
let shown: { analysis: Analysis; image: Float32Array } | undefined;
/** Side of the token grid (img_size / patch_size), known once the model is loaded. */
let grid = 0;
/** Query token (0 = cls) and head, kept across inputs so one can compare images at the same spot. */
let query = 0;
let head = 0;
let samples: Sample[] = [];
let busy = false;
let pending: string | undefined;

function renderViews(): void {
  if (!shown) return;
  drawTokenGrid(picker, shown.image, grid, query > 0 ? query - 1 : undefined, 196);
  $('cls').classList.toggle('active', query === 0);
  $('query-label').textContent =
    query === 0
      ? 'the cls token'
      : `patch row ${Math.floor((query - 1) / grid) + 1}, column ${((query - 1) % grid) + 1}`;
  renderAttention($('maps'), { blocks: shown.analysis.blocks, image: shown.image, query, head }, pick);
}

/** For a sample, its true label and whether the top-1 prediction matches it. */
function showTruth(source: string, probs: Float32Array): void {
  const truth = $('truth');
  const sample = source.startsWith('sample:') ? samples[Number(source.slice(7))] : undefined;
  truth.hidden = !sample;
  if (!sample) return;
  const right = probs.indexOf(Math.max(...probs)) === sample.label;
  truth.innerHTML = `True label: <b></b> <span class="${right ? 'ok' : 'wrong'}">${right ? '✓ correct' : '✗ wrong'}</span>`;
  truth.querySelector('b')!.textContent = LABELS[sample.label];
}

function pick(q: number): void {
  query = q;
  renderViews();
}

/** Runs the model on the current input; changes made meanwhile are coalesced into one more run. */
async function run(source: string): Promise<void> {
  pending = source;
  if (busy || !model) return;
  busy = true;
  try {
    while (pending !== undefined) {
      const from = pending;
      pending = undefined;
      const image = input.pixels();
      const t0 = performance.now();
      const analysis = await analyse(model, image);
      shown = { analysis, image };
      renderPredictions(predictions, analysis.probs, LABELS);
      predictions.dataset.input = from;
      showTruth(from, analysis.probs);
      status.textContent = `forward pass + capture: ${(performance.now() - t0).toFixed(0)} ms (TensorFlow.js, cpu backend)`;
      renderViews();
    }
  } catch (err) {
    status.textContent = `error: ${(err as Error).message}`;
  } finally {
    busy = false;
  }
}

input.onChange = (source) => void run(source);
$('clear').addEventListener('click', () => {
  input.clear();
  void run('clear');
});
$<HTMLInputElement>('upload').addEventListener('change', async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    const { pixels, inverted } = await uploadPixels(file);
    input.setPixels(pixels, 'upload');
    $('upload-note').textContent = inverted ? 'Light background detected: colours inverted to match the dataset.' : '';
  } catch {
    $('upload-note').textContent = `Could not read ${file.name} as an image.`;
  }
});
picker.addEventListener('click', (e) => pick(1 + cellAt(picker, e, grid)));
$('cls').addEventListener('click', () => pick(0));
$('heads').addEventListener('change', (e) => {
  head = Number((e.target as HTMLInputElement).value);
  renderViews();
});

/** The explanation's numbers come from the model's config, so the text stays true if the config changes. */
function fillNumbers(kw: Record<string, number>): void {
  const tokens = grid * grid + 1;
  const values: Record<string, string> = {
    grid: `${grid}×${grid}`,
    patch: `${kw.patch_size}×${kw.patch_size}`,
    patches: String(grid * grid),
    tokens: String(tokens),
    uniform: Math.log(tokens).toFixed(2),
    p: String(kw.focusing_factor),
    kernel: `${kw.kernel_size}×${kw.kernel_size}`,
  };
  for (const el of document.querySelectorAll<HTMLElement>('[data-fill]')) el.textContent = values[el.dataset.fill!];
}

async function showSample(file: string, index: number): Promise<void> {
  input.setPixels(await samplePixels(`samples/${file}`), `sample:${index}`);
}

async function main(): Promise<void> {
  document.body.dataset.model = 'loading';
  drawLegend($<HTMLCanvasElement>('legend'));
  status.textContent = 'loading the model…';
  samples = await loadSamples();
  $('samples').replaceChildren(
    ...samples.map((s, i) => {
      const b = document.createElement('button');
      b.className = 'sample';
      b.dataset.sample = String(i);
      b.title = `test image #${s.testIndex}: ${LABELS[s.label]}`;
      b.innerHTML = '<img alt=""><span></span>';
      b.querySelector('img')!.src = `samples/${s.file}`;
      b.querySelector('span')!.textContent = LABELS[s.label];
      b.addEventListener('click', () => void showSample(s.file, i));
      return b;
    }),
  );
  model = await loadModel();
  const kw = model.kwargs;
  grid = kw.img_size / kw.patch_size;
  query = 1 + (grid >> 1) * (grid + 1); // the centre patch
  fillNumbers(kw);
  $('heads').replaceChildren(
    ...Array.from({ length: kw.num_heads }, (_, h) => {
      const label = document.createElement('label');
      label.innerHTML = `<input type="radio" name="head" value="${h}"${h === head ? ' checked' : ''}> ${h + 1}`;
      return label;
    }),
  );
  $('banner').hidden = !model.random;
  $('model-info').textContent = model.description;
  document.body.dataset.model = 'ready';
  await showSample(samples[0].file, 0);
}

main().catch((err: Error) => {
  document.body.dataset.model = 'error';
  status.textContent = `error: ${err.message}`;
});
