/**
 * One model's dtype variants timed in alternation, in a fresh plain-node process (see run.ts on why not tsx).
 * argv[2] is a DtypeJob; the result is printed as one `RESULT {json}` line.
 */
import { exportOnnx, runExported } from '../src/api/export.js';
import { encodeModel } from '../src/engines/onnx/proto.js';
import { applyDType, type ModelDType } from '../src/engines/onnx/quantize/dtype.js';
import type { Q8Options } from '../src/engines/onnx/quantize/q8.js';
import { OnnxSession } from '../src/engines/onnx/session.js';
import { median } from './report.js';

/** A dtype, or q8 with other options (a lever docs/quantization.md measures). */
export interface Variant {
  label: string;
  dtype: ModelDType;
  q8?: Q8Options;
}

export interface DtypeJob {
  model: string;
  variants: Variant[];
  threads: number;
  batch: number;
  rounds: number;
  roundMs: number;
}

export interface DtypeTiming {
  /** File size per variant (bytes). */
  bytes: number[];
  /** Per variant (the first is fp32), per round: the variant's median and the fp32 median timed next to it (ms). */
  pairs: { ms: number; fp32Ms: number }[][];
}

async function main(job: DtypeJob): Promise<DtypeTiming> {
  const fp32 = exportOnnx({ name: job.model });
  const files = job.variants.map((v) =>
    v.dtype === 'fp32' ? fp32.bytes : encodeModel(applyDType(fp32.proto, v.dtype, v.q8)),
  );
  const sessions: OnnxSession[] = [];
  for (const [i, f] of files.entries())
    sessions.push(await OnnxSession.create(f, job.variants[i].label, { threads: job.threads }));
  // (batch, C, H, W) as the file declares it
  const shape = sessions[0].inputs[0].shape.map((d) => (typeof d === 'number' ? d : job.batch));
  const n = shape.reduce((a, b) => a * b, 1);
  const x = { dtype: 'float32' as const, shape, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.01)) };
  const run = (s: OnnxSession) => runExported(s, x, { reuseOutputs: true });
  const slot = async (s: OnnxSession) => {
    const ts: number[] = [];
    const start = performance.now();
    do {
      const t = performance.now();
      await run(s);
      ts.push(performance.now() - t);
    } while (performance.now() - start < job.roundMs || ts.length < 3);
    return median(ts);
  };
  for (const s of sessions) {
    const warm = performance.now();
    do await run(s);
    while (performance.now() - warm < 1000);
  }
  // each variant in a pair with fp32, fp32 first on even rounds and second on odd ones: the host's speed drifts
  // over seconds, so a ratio is taken only between two slots that ran back to back
  const pairs = sessions.map(() => [] as { ms: number; fp32Ms: number }[]);
  for (let r = 0; r < job.rounds; r++) {
    for (let i = 1; i < sessions.length; i++) {
      const first = await slot(sessions[r % 2 ? i : 0]);
      const second = await slot(sessions[r % 2 ? 0 : i]);
      pairs[i].push(r % 2 ? { ms: first, fp32Ms: second } : { ms: second, fp32Ms: first });
    }
  }
  for (const s of sessions) await s.release();
  return { bytes: files.map((f) => f.length), pairs };
}

console.log(`RESULT ${JSON.stringify(await main(JSON.parse(process.argv[2]) as DtypeJob))}`);
