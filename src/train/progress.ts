/** Seconds as 1h02m, 3m05s or 42s. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  if (h) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

export interface ProgressFields {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  acc: number;
  lr: number;
  imagesPerSec: number;
  etaSec: number;
}

/**
 * A one-line progress bar on stderr. On a terminal it redraws in place; otherwise (logs, CI) it prints
 * a plain line at most every `logEverySec` seconds, so files stay readable.
 */
export class ProgressBar {
  private lastLog = 0;
  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly logEverySec = 30,
  ) {}

  static line(f: ProgressFields, width = 20): string {
    const filled = Math.round((width * f.step) / Math.max(1, f.steps));
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    return `epoch ${f.epoch}/${f.epochs} [${bar}] ${f.step}/${f.steps} loss ${f.loss.toFixed(4)} acc ${(100 * f.acc).toFixed(1)}% lr ${f.lr.toExponential(2)} ${f.imagesPerSec.toFixed(1)} img/s ETA ${formatDuration(f.etaSec)}`;
  }

  update(f: ProgressFields): void {
    if (this.stream.isTTY) {
      this.stream.write(`\r${ProgressBar.line(f)}\x1b[K`);
      return;
    }
    const now = Date.now() / 1000;
    if (now - this.lastLog >= this.logEverySec || f.step === f.steps) {
      this.lastLog = now;
      this.stream.write(`${ProgressBar.line(f)}\n`);
    }
  }

  /** Ends the in-place line and prints a message on its own line. */
  log(msg: string): void {
    this.stream.write(this.stream.isTTY ? `\r\x1b[K${msg}\n` : `${msg}\n`);
  }
}
