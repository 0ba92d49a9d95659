/**
 * Cost and latency against input size, for the claim that focused linear attention grows linearly in tokens:
 * MACs of the whole model and of each focused stage (modelInfo, a shape-only walk), and the latency of our
 * ONNX graph on onnxruntime-node (batch 1, one intra-op thread, random weights: latency does not depend on
 * them), of the whole model and of the graph cut after its last focused stage (stem and stages up to there;
 * the rest is dead code the graph drops). A model's graphs run round-robin, one run each per round with the
 * starting one rotating, so that the host's drift (2–3× here) hits every size alike; each reports the median
 * of its rounds. The exponents are least-squares slopes of log(cost) against log(tokens).
 *
 *   npx tsx bench/scaling.ts [--rounds 5]        (npm run bench:scaling)
 */
import { exportOnnx, runExported } from '../src/api/export.js';
import { modelInfo } from '../src/api/info.js';
import { buildAtSize } from '../src/api/size.js';
import { float32 } from '../src/core/tensor.js';
import { OnnxSession } from '../src/engines/onnx/session.js';
import { traceOnnx } from '../src/engines/onnx/trace.js';
import { stageMap } from '../src/models/model.js';
import { registryEntry } from '../src/models/registry.js';
import { initWeights } from '../src/nn/init.js';
import { markdownTable } from './report.js';

const CASES = [
  { name: 'flatten_pvt_v2_b0', sizes: [224, 384, 512, 768] },
  { name: 'flatten_swin_t', sizes: [224, 448, 896] }, // sizes whose stages its windows tile
];
const arg = process.argv.indexOf('--rounds');
const ROUNDS = arg > 0 ? Number(process.argv[arg + 1]) : 5;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Least-squares slope of log y against log x: the exponent k of y ∝ x^k. */
function exponent(x: number[], y: number[]): number {
  const [lx, ly] = [x.map(Math.log), y.map(Math.log)];
  const [mx, my] = [lx.reduce((a, b) => a + b) / lx.length, ly.reduce((a, b) => a + b) / ly.length];
  const num = lx.reduce((s, v, i) => s + (v - mx) * (ly[i] - my), 0);
  return num / lx.reduce((s, v) => s + (v - mx) ** 2, 0);
}

/** Stages whose blocks are all focused ('L' in the released attn_type). */
function focusedStages(name: string, stages: number): number[] {
  const t = String(registryEntry(name).kwargs.attn_type);
  return [...Array(stages).keys()].filter((i) => t[i] === 'L');
}

const spread = (ms: number[]) =>
  `${median(ms).toFixed(0)} (${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)})`;

const rng = (() => {
  let s = 1;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
})();

for (const { name, sizes } of CASES) {
  const infos = sizes.map((r) => modelInfo(name, { imgSize: r }));
  const focused = focusedStages(name, infos[0].featureInfo.length);
  const tokens = sizes.map((r) => (r / 4) ** 2); // stage-1 tokens; every stage's count scales alike
  const last = focused[focused.length - 1];
  const timers = (
    await Promise.all(
      sizes.map(async (r) => {
        const x = float32([1, 3, r, r], Float32Array.from({ length: 3 * r * r }, rng));
        const timer = async (bytes: Uint8Array, run: (s: OnnxSession) => Promise<unknown>) => {
          const session = await OnnxSession.create(bytes, `${name}@${r}`, { threads: 1 });
          const once = async () => {
            const t0 = performance.now();
            await run(session);
            return performance.now() - t0;
          };
          return { session, once, ms: [] as number[] };
        };
        const full = await timer(exportOnnx({ name, imgSize: r }).bytes, (s) =>
          runExported(s, x, { reuseOutputs: true }),
        );
        // the same graph cut after the last focused stage's map
        const { model } = buildAtSize(name, { imgSize: r });
        const cut = traceOnnx(initWeights(model.table), [{ name: 'pixel_values', shape: [1, 3, r, r] }], (ctx, t) => ({
          map: stageMap(ctx, model.forward(ctx, t).stages[last]),
        }));
        const head = await timer(cut.bytes, (s) => s.run({ pixel_values: x }, { reuseOutputs: true }));
        return [full, head];
      }),
    )
  ).flat(); // full, cut per size
  for (const t of timers) await t.once(); // warm-up
  for (let round = 0; round < ROUNDS; round++)
    for (let k = 0; k < timers.length; k++) {
      const t = timers[(round + k) % timers.length];
      t.ms.push(await t.once());
    }
  const runs = sizes.map((_, i) => timers[2 * i]);
  const cuts = sizes.map((_, i) => timers[2 * i + 1]);
  const fit = (ys: number[]) => exponent(tokens, ys).toFixed(3);
  const stageMacs = (f: number) => infos.map((i) => i.stages[f + 1].macs);
  const focusedMacs = infos.map((_, k) => focused.reduce((s, f) => s + stageMacs(f)[k], 0));
  // the fastest run is the one least disturbed by other tenants: its slope is a second, steadier estimate
  const slopes = (ts: typeof timers) =>
    `${fit(ts.map((t) => median(t.ms)))} (medians) / ${fit(ts.map((t) => Math.min(...t.ms)))} (fastest runs)`;
  const rows = sizes.map((r, i) => [
    `${r}²`,
    String(tokens[i]),
    (infos[i].macs / 1e9).toFixed(2),
    ...focused.map((f) => (stageMacs(f)[i] / 1e9).toFixed(3)),
    spread(runs[i].ms),
    spread(cuts[i].ms),
  ]);
  console.log(`\n### ${name}: batch 1, 1 thread, onnxruntime-node, median of ${ROUNDS} interleaved rounds\n`);
  const header = ['size', 'stage-1 tokens', 'GMACs', ...focused.map((f) => `stage ${f + 1} (focused) GMACs`)];
  console.log(markdownTable([...header, 'latency ms (min–max)', `through stage ${last + 1} ms`], rows));
  const perStage = focused.map((f) => `stage ${f + 1} ${fit(stageMacs(f))}`).join(', ');
  console.log(
    `\nexponents vs tokens: focused-stage MACs ${fit(focusedMacs)} (${perStage}); model MACs ${fit(infos.map((i) => i.macs))}; ` +
      `latency ${slopes(runs)}, through stage ${last + 1} ${slopes(cuts)}`,
  );
  for (const t of timers) await t.session.release();
}
console.log(`\n${new Date().toISOString()}`);
