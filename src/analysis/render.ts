import { importPackage } from '../core/optional.js';

const loadSharp = async () =>
  (await importPackage<{ default: typeof import('sharp') }>('sharp', 'writing PNG figures')).default;

/** RGB pixels (HWC uint8) of a square image. */
export interface Rgb {
  size: number;
  data: Uint8Array;
}

/** Text for HTML and SVG: the characters that would start markup or an entity, escaped. */
export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

export const GREY = [224, 224, 224];
export const BLUE = [0, 0, 255];
export const RED = [255, 33, 33];

/** Grayscale or RGB HWC pixels → RGB, nearest-upscaled to at least `minSize` so small inputs stay visible. */
export function toRgb(pixels: Uint8Array, size: number, channels: 1 | 3, minSize = 224): Rgb {
  const scale = Math.max(1, Math.ceil(minSize / size));
  const out = new Uint8Array((size * scale) ** 2 * 3);
  for (let y = 0; y < size * scale; y++) {
    for (let x = 0; x < size * scale; x++) {
      const src = Math.floor(y / scale) * size + Math.floor(x / scale);
      for (let c = 0; c < 3; c++)
        out[(y * size * scale + x) * 3 + c] = pixels[src * channels + (channels === 3 ? c : 0)];
    }
  }
  return { size: size * scale, data: out };
}

export interface Overlay {
  /** One value per key cell, row-major over a gh×gw grid. */
  values: Float64Array;
  grid: [number, number];
  /** The part of the image the grid covers, as fractions of its side: [top, left, height, width]. */
  region: [number, number, number, number];
  /** The query's cell on a qh×qw grid over the same region. */
  query?: { index: number; grid: [number, number] };
}

/**
 * The look of the official visualize.py: 0.3·image + 0.7·(m·blue + (1 − m)·grey), with m the attention
 * scaled to its maximum, nearest-upsampled; the query cell in red; outside the region the image is dimmed.
 */
export function overlay(img: Rgb, o: Overlay): Uint8Array {
  const { size, data } = img;
  const out = new Uint8Array(data.length);
  const max = o.values.reduce((a, b) => Math.max(a, b), 0) || 1;
  const [top, left, h, w] = o.region.map((f) => f * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = (y * size + x) * 3;
      const inside = y >= top && y < top + h && x >= left && x < left + w;
      if (!inside) {
        for (let c = 0; c < 3; c++) out[p + c] = data[p + c] * 0.4;
        continue;
      }
      const fy = (y - top) / h;
      const fx = (x - left) / w;
      const cell = Math.floor(fy * o.grid[0]) * o.grid[1] + Math.floor(fx * o.grid[1]);
      const m = Math.min(1, o.values[cell] / max);
      let colour = BLUE.map((b, c) => m * b + (1 - m) * GREY[c]);
      if (
        o.query &&
        Math.floor(fy * o.query.grid[0]) * o.query.grid[1] + Math.floor(fx * o.query.grid[1]) === o.query.index
      )
        colour = RED;
      for (let c = 0; c < 3; c++) out[p + c] = Math.round(0.3 * data[p + c] + 0.7 * colour[c]);
    }
  }
  return out;
}

export async function pngFromRgb(data: Uint8Array, width: number, height = width): Promise<Buffer> {
  const sharp = await loadSharp();
  return sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

export async function pngFromSvg(svg: string): Promise<Buffer> {
  const sharp = await loadSharp();
  return sharp(Buffer.from(svg)).png().toBuffer();
}

export interface BarSeries {
  label: string;
  colour: string;
  values: (number | null)[];
}

/** A grouped bar chart as SVG (rendered to PNG with pngFromSvg). */
export function barChartSvg(title: string, categories: string[], series: BarSeries[], yLabel: string): string {
  const width = Math.max(480, 80 + categories.length * (series.length * 14 + 16));
  const height = 320;
  const plot = { x: 60, y: 40, w: width - 80, h: height - 120 };
  const max = Math.max(1, ...series.flatMap((s) => s.values.map((v) => v ?? 0)));
  const group = plot.w / categories.length;
  const bar = Math.min(14, (group - 8) / series.length);
  const bars = categories.flatMap((_, i) =>
    series.map((s, k) => {
      const v = s.values[i];
      if (v === null) return '';
      const bh = (v / max) * plot.h;
      const x = plot.x + i * group + 4 + k * bar;
      return `<rect x="${x.toFixed(1)}" y="${(plot.y + plot.h - bh).toFixed(1)}" width="${(bar - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="${s.colour}"/>`;
    }),
  );
  const labels = categories.map(
    (c, i) =>
      `<text x="${plot.x + (i + 0.5) * group}" y="${plot.y + plot.h + 14}" font-size="9" text-anchor="end" transform="rotate(-40 ${plot.x + (i + 0.5) * group} ${plot.y + plot.h + 14})">${esc(c)}</text>`,
  );
  const legend = series.map(
    (s, k) =>
      `<rect x="${plot.x + k * 170}" y="12" width="10" height="10" fill="${s.colour}"/><text x="${plot.x + k * 170 + 14}" y="21" font-size="11">${esc(s.label)}</text>`,
  );
  const ticks = [0, 0.5, 1].map(
    (f) =>
      `<text x="${plot.x - 6}" y="${plot.y + plot.h - f * plot.h + 4}" font-size="10" text-anchor="end">${Math.round(f * max)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="${height - 6}" font-size="12" text-anchor="middle">${esc(title)}</text>
<text x="14" y="${plot.y + plot.h / 2}" font-size="11" transform="rotate(-90 14 ${plot.y + plot.h / 2})" text-anchor="middle">${esc(yLabel)}</text>
<line x1="${plot.x}" y1="${plot.y + plot.h}" x2="${plot.x + plot.w}" y2="${plot.y + plot.h}" stroke="black"/>
${ticks.join('\n')}
${bars.join('\n')}
${labels.join('\n')}
${legend.join('\n')}
</svg>`;
}
