/**
 * Heat maps of one query's attention over the 7×7 key tokens, blended over the 28×28 input so one can
 * see which parts of the garment the query attends to.
 */
const SIDE = 28;

/** A dark-to-bright ramp (black → purple → orange → pale yellow), readable on a dark page and in print. */
const STOPS: [number, number, number][] = [
  [0, 0, 4],
  [80, 18, 123],
  [183, 55, 121],
  [251, 136, 97],
  [252, 253, 191],
];

export function ramp(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(STOPS[i][c] + f * (STOPS[i + 1][c] - STOPS[i][c]))) as [
    number,
    number,
    number,
  ];
}

export interface HeatMap {
  /** One weight per key token, row-major over a grid×grid map (the cls key is not drawn). */
  values: Float64Array;
  grid: number;
  /** Highlighted query cell (row-major index), or undefined for the cls query. */
  query?: number;
}

/** Paint the 28×28 image at `size` px, optionally blended 0.3 : 0.7 with a colour per pixel. */
function paint(
  canvas: HTMLCanvasElement,
  image: Float32Array,
  size: number,
  tint?: (x: number, y: number) => [number, number, number],
): CanvasRenderingContext2D {
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const out = ctx.createImageData(size, size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const g = image[Math.floor((y * SIDE) / size) * SIDE + Math.floor((x * SIDE) / size)] * 255;
      const rgb = tint ? tint(x, y).map((c) => 0.3 * g + 0.7 * c) : [g, g, g];
      out.data.set([...rgb, 255], (y * size + x) * 4);
    }
  }
  ctx.putImageData(out, 0, 0);
  return ctx;
}

/**
 * Draw the map at `size` px: 0.3·image + 0.7·ramp(w / max w). Scaling to the map's own maximum shows
 * its shape; how concentrated it is, is what the entropy next to it measures.
 */
export function drawHeatMap(canvas: HTMLCanvasElement, image: Float32Array, map: HeatMap, size: number): void {
  const max = Math.max(...map.values) || 1;
  const cell = (v: number) => Math.floor((v * map.grid) / size);
  const ctx = paint(canvas, image, size, (x, y) => ramp(map.values[cell(y) * map.grid + cell(x)] / max));
  if (map.query !== undefined) outlineCell(ctx, map.query, map.grid, size);
}

/** The query's cell, drawn as a cyan square: a colour the ramp never produces. */
export function outlineCell(ctx: CanvasRenderingContext2D, cell: number, grid: number, size: number): void {
  const s = size / grid;
  ctx.strokeStyle = '#22d3ee';
  ctx.lineWidth = Math.max(2, size / 70);
  ctx.strokeRect((cell % grid) * s + 1, Math.floor(cell / grid) * s + 1, s - 2, s - 2);
}

/** The cell of a grid×grid map under a click, as a row-major index. */
export function cellAt(canvas: HTMLCanvasElement, e: MouseEvent, grid: number): number {
  const r = canvas.getBoundingClientRect();
  const col = Math.min(grid - 1, Math.floor(((e.clientX - r.left) / r.width) * grid));
  const row = Math.min(grid - 1, Math.floor(((e.clientY - r.top) / r.height) * grid));
  return row * grid + col;
}

/** The query picker: the input with the token grid drawn over it and the chosen cell outlined. */
export function drawTokenGrid(
  canvas: HTMLCanvasElement,
  image: Float32Array,
  grid: number,
  query: number | undefined,
  size: number,
): void {
  const ctx = paint(canvas, image, size);
  ctx.strokeStyle = 'rgba(255, 255, 255, 0.25)';
  ctx.lineWidth = 1;
  for (let i = 1; i < grid; i++) {
    const at = Math.round((i * size) / grid) + 0.5;
    ctx.beginPath();
    ctx.moveTo(at, 0);
    ctx.lineTo(at, size);
    ctx.moveTo(0, at);
    ctx.lineTo(size, at);
    ctx.stroke();
  }
  if (query !== undefined) outlineCell(ctx, query, grid, size);
}

/** The colour key: the ramp from 0 (left) to the map's maximum (right). */
export function drawLegend(canvas: HTMLCanvasElement): void {
  canvas.width = 120;
  canvas.height = 1;
  const ctx = canvas.getContext('2d')!;
  for (let x = 0; x < canvas.width; x++) {
    ctx.fillStyle = `rgb(${ramp(x / (canvas.width - 1)).join(',')})`;
    ctx.fillRect(x, 0, 1, 1);
  }
}
