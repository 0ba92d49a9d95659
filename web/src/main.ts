/**
 * The demo page: wires the model picker, the input, the predictions (onnxruntime-web through the
 * package's browser entry) and the attention views (tfjs, shipped model only). State the e2e test waits
 * on is kept in data attributes: body[data-model] ('loading' | 'ready' | 'error'), body[data-device] (the
 * execution provider of the loaded model), body[data-choice] (its kind: 'shipped' | 'registry' | 'files'), #predictions[data-input] (the source of the input the shown results
 * belong to: 'sample:3', 'upload:<file name>', 'drawing', 'clear'), #predictions[data-logits] (their logits, JSON), #maps[data-input] (the same for the maps);
 * window.__demo holds the same figures for scripts.
 */
import type { AnalysisModel, FocusedCapture } from './analysis.js';
import { renderAttention } from './attention_view.js';
import { filesOfDrop } from './drop.js';
import { cellAt, drawLegend, drawTokenGrid } from './heatmap.js';
import { InputCanvas, samplePixels, uploadPixels } from './input.js';
import { LABELS, SHIPPED_WEIGHTS } from './defines.js';
import { renderPredictions } from './predictions.js';
import { loadModel, type Device, type LoadedModel, type ModelChoice, type Progress } from './runtime.js';
import { loadSamples } from './samples.js';
import { MODEL_NAME, type Sample } from './shared.js';
import { listModels } from 'flatten-transformer/web';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** The figures a script reads (e2e test, web/measure.ts). */
interface DemoState {
  logits?: number[];
  device?: string;
  threads?: number;
  latencyMs?: number;
  firstPredictionMs?: number;
  /** One attention capture of the current input on a tfjs backend, in ms (web/measure.ts alternates them). */
  timeCapture: (backend: 'cpu' | 'wasm') => Promise<number>;
}
const demo: DemoState = {
  timeCapture: async (backend) => {
    if (!analysis) throw new Error('the attention analysis is not loaded (pick the shipped model)');
    const { model: m, capture } = await analysis;
    const t0 = performance.now();
    await capture({ ...m, backend }, grayPixels());
    return performance.now() - t0;
  },
};
(window as unknown as { __demo: DemoState }).__demo = demo;

const input = new InputCanvas($<HTMLCanvasElement>('input'));
const status = $('status');
const predictions = $('predictions');
const picker = $<HTMLCanvasElement>('query');
const modelSelect = $<HTMLSelectElement>('model');
const deviceSelect = $<HTMLSelectElement>('device');
const progress = $<HTMLProgressElement>('progress');
const progressLabel = $('progress-label');
const errorLine = $('error');
let model: LoadedModel | undefined;
/** The tfjs model behind the maps, built once from the shipped model's weights. */
let analysis: Promise<{ model: AnalysisModel; capture: typeof import('./analysis.js').captureBlocks }> | undefined;
/** The uploaded photo: RGB models classify it in colour; the 1-channel model gets its gray 28×28. */
let photo: Blob | undefined;
/** Latest maps and the pixels they were computed from (they are drawn over those). */
let shown: { blocks: FocusedCapture[]; image: Float32Array } | undefined;
/** Side of the token grid (img_size / patch_size), known once the analysis is loaded. */
let grid = 0;
/** Query token (0 = cls) and head, kept across inputs so one can compare images at the same spot. */
let query = 0;
let head = 0;
let samples: Sample[] = [];
let source = 'clear';
let busy = false;
let pending: string | undefined;
/** `?threads=N` overrides the entry's default wasm threads (min(4, cores) when cross-origin isolated). */
const threads = Number(new URLSearchParams(location.search).get('threads')) || undefined;
/** `?fma=0` runs onnxruntime-web's stock .wasm even where relaxed SIMD would run the fused one (to compare them). */
const fma = new URLSearchParams(location.search).get('fma') !== '0';
/** Counts loads so a slow load overtaken by a newer pick is dropped. */
let loads = 0;

function showError(message: string | undefined): void {
  errorLine.hidden = !message;
  errorLine.textContent = message ? `error: ${message}` : '';
}

/** The canvas as the tfjs model takes it: gray in [0, 1]. */
const grayPixels = () => Float32Array.from(input.gray(), (v) => v / 255);

function softmax(z: Float32Array): Float32Array {
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function renderViews(): void {
  if (!shown) return;
  drawTokenGrid(picker, shown.image, grid, query > 0 ? query - 1 : undefined, 196);
  $('cls').classList.toggle('active', query === 0);
  $('query-label').textContent =
    query === 0
      ? 'the cls token'
      : `patch row ${Math.floor((query - 1) / grid) + 1}, column ${((query - 1) % grid) + 1}`;
  renderAttention($('maps'), { blocks: shown.blocks, image: shown.image, query, head }, pick);
}

/** For a sample and a Fashion-MNIST model, its true label and whether the top-1 prediction matches it. */
function showTruth(from: string, probs: Float32Array, labels: readonly string[]): void {
  const truth = $('truth');
  const sample = from.startsWith('sample:') ? samples[Number(from.slice(7))] : undefined;
  const fmnist = labels.length === LABELS.length && labels.every((l, i) => l === LABELS[i]);
  truth.hidden = !sample || !fmnist;
  if (truth.hidden) return;
  const right = probs.indexOf(Math.max(...probs)) === sample!.label;
  truth.innerHTML = `True label: <b></b> <span class="${right ? 'ok' : 'wrong'}">${right ? '✓ correct' : '✗ wrong'}</span>`;
  truth.querySelector('b')!.textContent = LABELS[sample!.label];
}

function pick(q: number): void {
  query = q;
  renderViews();
}

/** Why the page runs the threads it runs: the one line users need when wasm is slower than expected. */
function threadNote(m: LoadedModel): string {
  if (m.pipe.device === 'webgpu') return 'WebGPU';
  const n = m.pipe.threads;
  // relaxed SIMD: the .wasm whose multiply-adds run as one FMA instruction
  const fma = m.pipe.fma ? ', fused multiply-add (relaxed SIMD)' : '';
  if (crossOriginIsolated) return `wasm, ${n} thread${n === 1 ? '' : 's'}${fma}`;
  return `wasm, 1 thread${fma}: this page is not cross-origin isolated (served without COOP/COEP headers), so SharedArrayBuffer, which wasm threads need, is off`;
}

/** The uploaded photo beside the canvas, shown while an RGB model is the one classifying it. */
function showPhoto(): void {
  const img = $<HTMLImageElement>('photo');
  const rgb = model !== undefined && model.pipe.info.channels !== 1;
  if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src);
  img.hidden = !(rgb && photo);
  if (img.hidden) img.removeAttribute('src');
  else img.src = URL.createObjectURL(photo!);
}

/** The input in the form the model takes: gray bytes for 1-channel models, the photo (or canvas) in colour otherwise. */
function modelInput(m: LoadedModel) {
  if (m.pipe.info.channels === 1)
    return { data: input.gray(), width: input.canvas.width, height: input.canvas.height, channels: 1 as const };
  return photo ?? input.canvas;
}

/** Runs the model on the current input; changes made meanwhile are coalesced into one more run. */
async function run(from: string): Promise<void> {
  source = from;
  pending = from;
  if (busy || !model) return;
  busy = true;
  try {
    while (pending !== undefined) {
      const at = pending;
      pending = undefined;
      const m = model;
      const t0 = performance.now();
      const logits = await m.pipe.logits(modelInput(m));
      const ms = performance.now() - t0;
      const probs = softmax(logits);
      renderPredictions(predictions, probs, m.pipe.info.labels);
      Object.assign(predictions.dataset, { input: at, logits: JSON.stringify([...logits]), device: m.pipe.device });
      Object.assign(demo, { logits: [...logits], device: m.pipe.device, threads: m.pipe.threads, latencyMs: ms });
      showTruth(at, probs, m.pipe.info.labels);
      status.textContent = `onnxruntime-web, ${threadNote(m)}: ${ms.toFixed(1)} ms for this image`;
      if (demo.firstPredictionMs === undefined) {
        // navigation start is performance's time origin
        demo.firstPredictionMs = performance.mark('first-prediction').startTime;
        $('timing').textContent = `First prediction ${demo.firstPredictionMs.toFixed(0)} ms after page load started.`;
      }
      await renderAnalysis(m, at);
    }
  } catch (err) {
    showError((err as Error).message);
  } finally {
    busy = false;
  }
}

/** The maps, for the shipped model only: other models have no tfjs definition with these weights here. */
async function renderAnalysis(m: LoadedModel, at: string): Promise<void> {
  const on = m.choice.kind === 'shipped' && m.safetensors !== undefined;
  $('attention-body').hidden = !on;
  $('attention-note').hidden = on;
  if (!on) {
    $('analysis-status').textContent = '';
    return;
  }
  const { bytes, url } = m.safetensors!;
  // its own chunk (tfjs with it), fetched after the first prediction: the maps never delay it
  analysis ??= import('./analysis.js').then(async (m) => ({
    model: await m.loadAnalysis(bytes, url),
    capture: m.captureBlocks,
  }));
  const { model: a, capture } = await analysis;
  if (!grid) setupAnalysis(a.kwargs);
  const image = grayPixels();
  const t0 = performance.now();
  const blocks = await capture(a, image);
  const threads = a.backend === 'wasm' ? `, ${a.threads} thread${a.threads === 1 ? '' : 's'}` : '';
  $('analysis-status').textContent =
    `attention capture: ${(performance.now() - t0).toFixed(0)} ms (TensorFlow.js ${a.backend} backend${threads})`;
  shown = { blocks, image };
  $('maps').dataset.input = at;
  renderViews();
}

/** The explanation's numbers come from the model's config, so the text stays true if the config changes. */
function setupAnalysis(kw: Record<string, number>): void {
  grid = kw.img_size / kw.patch_size;
  query = 1 + (grid >> 1) * (grid + 1); // the centre patch
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
  $('heads').replaceChildren(
    ...Array.from({ length: kw.num_heads }, (_, h) => {
      const label = document.createElement('label');
      label.innerHTML = `<input type="radio" name="head" value="${h}"${h === head ? ' checked' : ''}> ${h + 1}`;
      return label;
    }),
  );
}

/** Stages seen: the first of each is marked (web/measure.ts reads where the first load's time goes). */
const stagesSeen = new Set<string>();

function showProgress(p: Progress): void {
  if (!stagesSeen.has(p.stage)) performance.mark(`load:${p.stage}`);
  stagesSeen.add(p.stage);
  progress.hidden = false;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const file = p.file ? ` ${p.file.split('/').pop()}` : '';
  if (p.total) progress.value = p.loaded / p.total;
  else progress.removeAttribute('value'); // indeterminate: the size is not known
  progressLabel.textContent =
    p.stage === 'download'
      ? `downloading${file}: ${mb(p.loaded)}${p.total ? ` / ${mb(p.total)}` : ''} MB`
      : p.stage === 'build'
        ? `building the ONNX graph${file}`
        : 'starting the onnxruntime-web session';
}

function describe(m: LoadedModel): string {
  const { name, imgSize, channels, labels, dtype } = m.pipe.info;
  // the shipped weights reach the entry as bytes: name the file they came from
  const from = m.safetensors?.url ?? m.pipe.info.source;
  return `${name}: ${imgSize.join('×')} ${channels === 1 ? 'gray' : 'RGB'}, ${labels.length} classes, ${dtype}; from ${from}`;
}

/** Why a model's weights are random, for the banner (shown only when they are). */
function randomWhy(choice: ModelChoice): string {
  if (choice.kind === 'registry') return 'a registry pick: the tab has no checkpoint for it';
  if (choice.kind === 'files') return 'the dropped model was exported without a checkpoint';
  return `${SHIPPED_WEIGHTS} was not found; the maps still show how each attention form behaves`;
}

/** Loads a choice on the selected device; on failure the previous model stays loaded and in use. */
async function choose(choice: ModelChoice): Promise<void> {
  const id = ++loads;
  document.body.dataset.model = 'loading';
  showError(undefined);
  try {
    const next = await loadModel(choice, {
      device: deviceSelect.value as Device,
      threads,
      fma,
      weightsPath: SHIPPED_WEIGHTS,
      onProgress: showProgress,
    });
    if (id !== loads) return void (await next.pipe.dispose());
    if (!model) performance.mark('first-model-loaded');
    const old = model;
    model = next;
    await old?.pipe.dispose();
    $('banner').hidden = !next.random;
    $('banner-why').textContent = randomWhy(next.choice);
    $('model-info').textContent = describe(next);
    $('photo-note').hidden = next.pipe.info.channels === 1;
    showPhoto();
    Object.assign(document.body.dataset, { device: next.pipe.device, choice: next.choice.kind, model: 'ready' });
    void run(source);
  } catch (err) {
    if (id !== loads) return;
    showError((err as Error).message);
    // the page keeps working on what it had
    document.body.dataset.model = model ? 'ready' : 'error';
    syncPicker();
  } finally {
    if (id === loads) progress.hidden = true;
    progressLabel.textContent = '';
  }
}

/** The picker shows the model in use (after a failed load, the one still loaded, under its own label). */
function syncPicker(): void {
  if (!model) return;
  const c = model.choice;
  const dropped = modelSelect.querySelector<HTMLOptionElement>('option[value="dropped"]');
  if (c.kind === 'files') dropped!.textContent = `dropped: ${c.label}`;
  else dropped?.remove();
  modelSelect.value = c.kind === 'shipped' ? 'shipped' : c.kind === 'registry' ? c.name : 'dropped';
}

function chooseFiles(files: File[]): void {
  if (!files.length) return;
  const folder = files[0].webkitRelativePath.split('/')[0];
  const label = files.length === 1 ? files[0].name : `${folder || 'folder'}/ (${files.length} files)`;
  let opt = modelSelect.querySelector<HTMLOptionElement>('option[value="dropped"]');
  if (!opt) {
    opt = document.createElement('option');
    opt.value = 'dropped';
    modelSelect.prepend(opt);
  }
  opt.textContent = `dropped: ${label}`;
  modelSelect.value = 'dropped';
  void choose({ kind: 'files', files, label });
}

function currentChoice(): ModelChoice {
  const v = modelSelect.value;
  if (v === 'shipped') return { kind: 'shipped' };
  if (v === 'dropped' && model?.choice.kind === 'files') return model.choice;
  return { kind: 'registry', name: v };
}

function fillModelPicker(): void {
  const shipped = new Option(`${MODEL_NAME}: shipped weights (trained on Fashion-MNIST)`, 'shipped');
  const group = document.createElement('optgroup');
  group.label = 'Registry models: RANDOM WEIGHTS (predictions meaningless)';
  group.append(...listModels().map((name) => new Option(`${name} (RANDOM WEIGHTS)`, name)));
  modelSelect.replaceChildren(shipped, group);
}

/** Every change of the input: a drawing, a sample or Clear replaces the photo; an upload brings one. */
input.onChange = (from) => {
  if (!from.startsWith('upload:')) photo = undefined;
  showPhoto();
  void run(from);
};
$('clear').addEventListener('click', () => {
  input.clear();
  input.onChange('clear');
});
$<HTMLInputElement>('upload').addEventListener('change', async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    const { pixels, inverted } = await uploadPixels(file);
    $('upload-note').textContent = inverted
      ? 'Light background detected: the gray 28×28 version is inverted to match Fashion-MNIST (an RGB model gets the photo as it is).'
      : '';
    photo = file;
    input.setPixels(pixels, `upload:${file.name}`);
  } catch {
    $('upload-note').textContent = `Could not read ${file.name} as an image.`;
  }
});
modelSelect.addEventListener('change', () => void choose(currentChoice()));
deviceSelect.addEventListener('change', () => model && void choose(model.choice));
$<HTMLInputElement>('onnx-input').addEventListener('change', (e) => {
  chooseFiles([...((e.target as HTMLInputElement).files ?? [])]);
});
$<HTMLInputElement>('folder-input').addEventListener('change', (e) => {
  chooseFiles([...((e.target as HTMLInputElement).files ?? [])]);
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', async (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  chooseFiles(await filesOfDrop(e.dataTransfer!));
});
picker.addEventListener('click', (e) => pick(1 + cellAt(picker, e, grid)));
$('cls').addEventListener('click', () => pick(0));
$('heads').addEventListener('change', (e) => {
  head = Number((e.target as HTMLInputElement).value);
  renderViews();
});

async function showSample(file: string, index: number): Promise<void> {
  input.setPixels(await samplePixels(`samples/${file}`), `sample:${index}`);
}

async function main(): Promise<void> {
  performance.mark('app-start'); // the bundle is fetched, parsed and run
  document.body.dataset.model = 'loading';
  drawLegend($<HTMLCanvasElement>('legend'));
  fillModelPicker();
  const device = new URLSearchParams(location.search).get('device');
  if (device === 'wasm' || device === 'webgpu' || device === 'auto') deviceSelect.value = device;
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
  // the first sample is drawn before the model is ready, so the first prediction follows the load at once
  await showSample(samples[0].file, 0);
  await choose({ kind: 'shipped' });
}

main().catch((err: Error) => {
  document.body.dataset.model = 'error';
  showError(err.message);
});
