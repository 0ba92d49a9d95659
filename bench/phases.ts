import type { PhaseSlot } from './child.js';
import { median } from './report.js';

/** The model's name and MACs per image, for its efficiency. */
export interface PhaseBasis {
  model: string;
  macs: number;
}

const f = (v: number, d = 1) => v.toFixed(d);

/**
 * Split slots where the sorted core-to-core latencies jump by more than 1.5× (the largest such jump): on this VM
 * they sit in two clusters ~3× apart (~150 and ~500 ns), and a run may see only one of them.
 */
function states(slots: PhaseSlot[]): PhaseSlot[][] {
  const sorted = [...slots].sort((a, b) => a.c2cNs - b.c2cNs);
  const jump = (i: number) => sorted[i].c2cNs / sorted[i - 1].c2cNs;
  let cut = 0;
  for (let i = 1; i < sorted.length; i++) if (jump(i) > (cut ? jump(cut) : 1.5)) cut = i;
  return cut ? [sorted.slice(0, cut), sorted.slice(cut)] : [sorted];
}

/** The `phases` slots as table rows, and one summary line per state of the host (by core-to-core latency). */
export function phaseReport(slots: PhaseSlot[], basis: PhaseBasis) {
  // against the sgemm of the same slot, so that both sides of the ratio see the same state of the host
  const eff = (s: PhaseSlot) => (2 * basis.macs) / (s.model2Ms * 1e6) / s.sgemm2Gflops;
  const header = [
    'time (UTC)',
    'c2c ns',
    'sgemm 2 thr GFLOP/s',
    `${basis.model} 2 thr ms`,
    'efficiency',
    '1 thr ms',
    'focused 2 thr ms',
    'softmax 2 thr ms',
    'softmax ÷ focused',
  ];
  const rows = slots.map((s) => [
    s.at.slice(11, 19),
    f(s.c2cNs, 0),
    f(s.sgemm2Gflops, 0),
    f(s.model2Ms),
    f(eff(s), 2),
    f(s.model1Ms),
    f(s.focused2Ms, 2),
    f(s.softmax2Ms, 2),
    f(s.softmax2Ms / s.focused2Ms, 2),
  ]);
  const summary = states(slots).map((group) => {
    const c2c = group.map((s) => s.c2cNs);
    const of = (g: (s: PhaseSlot) => number) => median(group.map(g));
    return `c2c ${f(Math.min(...c2c), 0)}–${f(Math.max(...c2c), 0)} ns (${group.length} of ${slots.length} slots): ${basis.model} on 2 threads ${f(of((s) => s.model2Ms))} ms, efficiency ${f(of(eff), 2)} (sgemm ${f(
      of((s) => s.sgemm2Gflops),
      0,
    )} GFLOP/s); on 1 thread ${f(of((s) => s.model1Ms))} ms; focused attention (N = 3136, 2 threads) ${f(of((s) => s.softmax2Ms / s.focused2Ms))}× faster than softmax`;
  });
  return { header, rows, summary };
}
