/**
 * The 28×28 input: a canvas at the model's resolution, shown scaled up. Users draw on it (pointer
 * events cover mouse, pen and touch), or it is filled from a sample PNG or an uploaded picture.
 */
const SIDE = 28;
/** Brush width in model pixels: close to the stroke width of Fashion-MNIST outlines. */
const BRUSH = 2.2;

export class InputCanvas {
  private readonly ctx: CanvasRenderingContext2D;
  private last: [number, number] | undefined;
  /** Called after every change, with what produced it ('drawing', 'sample:3', 'upload:photo.jpg'). */
  onChange: (source: string) => void = () => {};

  constructor(readonly canvas: HTMLCanvasElement) {
    canvas.width = canvas.height = SIDE;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.last = this.toModel(e);
      this.stroke(this.last, this.last);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.last) return;
      const p = this.toModel(e);
      this.stroke(this.last, p);
      this.last = p;
    });
    const end = () => {
      this.last = undefined;
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  clear(): void {
    // Fashion-MNIST is a light garment on a black background
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, SIDE, SIDE);
  }

  /** Grayscale bytes, row-major: what the 1-channel model's pipeline takes as raw pixels. */
  gray(): Uint8Array {
    const rgba = this.ctx.getImageData(0, 0, SIDE, SIDE).data;
    return Uint8Array.from({ length: SIDE * SIDE }, (_, i) => rgba[i * 4]);
  }

  /** Replace the content with grayscale values in [0, 1]. */
  setPixels(values: Float32Array, source: string): void {
    const img = this.ctx.createImageData(SIDE, SIDE);
    values.forEach((v, i) => {
      const g = Math.round(Math.min(1, Math.max(0, v)) * 255);
      img.data.set([g, g, g, 255], i * 4);
    });
    this.ctx.putImageData(img, 0, 0);
    this.onChange(source);
  }

  private toModel(e: PointerEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * SIDE, ((e.clientY - r.top) / r.height) * SIDE];
  }

  private stroke(from: [number, number], to: [number, number]): void {
    const c = this.ctx;
    c.strokeStyle = '#fff';
    c.lineWidth = BRUSH;
    c.lineCap = 'round';
    c.beginPath();
    c.moveTo(...from);
    c.lineTo(...to);
    c.stroke();
    this.onChange('drawing');
  }
}

/** Luminance of an image scaled to w×h, in [0, 1]. */
function grayOf(source: CanvasImageSource, w: number, h: number): Float32Array {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, h).data;
  return Float32Array.from(
    { length: w * h },
    (_, i) => (0.299 * rgba[i * 4] + 0.587 * rgba[i * 4 + 1] + 0.114 * rgba[i * 4 + 2]) / 255,
  );
}

/** A sample PNG is already 28×28 grayscale: its pixels are taken as they are. */
export async function samplePixels(url: string): Promise<Float32Array> {
  const img = new Image();
  img.src = url;
  await img.decode();
  return grayOf(img, SIDE, SIDE);
}

/**
 * An arbitrary picture made to look like Fashion-MNIST: fitted inside 28×28, grayscale, inverted when
 * its border is light (photos of clothes are usually on a light background), and stretched so the
 * background is 0 and the brightest pixel 1.
 */
export async function uploadPixels(file: Blob): Promise<{ pixels: Float32Array; inverted: boolean }> {
  const bmp = await createImageBitmap(file);
  const scale = SIDE / Math.max(bmp.width, bmp.height);
  const [w, h] = [Math.max(1, Math.round(bmp.width * scale)), Math.max(1, Math.round(bmp.height * scale))];
  const g = grayOf(bmp, w, h);
  bmp.close();
  const border = [...g]
    .filter((_, i) => i % w === 0 || i % w === w - 1 || i < w || i >= w * (h - 1))
    .sort((a, b) => a - b);
  const median = border[border.length >> 1];
  const inverted = median > 0.5;
  const v = inverted ? g.map((x) => 1 - x) : g;
  const bg = inverted ? 1 - median : median;
  const span = Math.max(...v) - bg;
  const pixels = new Float32Array(SIDE * SIDE);
  const [ox, oy] = [(SIDE - w) >> 1, (SIDE - h) >> 1];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      pixels[(oy + y) * SIDE + ox + x] = span > 1e-3 ? Math.min(1, Math.max(0, (v[y * w + x] - bg) / span)) : 0;
  return { pixels, inverted };
}
