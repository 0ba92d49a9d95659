import { Graph } from './graph.js';
import { NCHWC } from './nchwc.js';
import { encodeModel } from './proto.js';
import { OnnxSession } from './session.js';

/**
 * The NCHWc block size of this machine's onnxruntime-node: ReorderInput pads 4 channels up to one block, so
 * the output's channel count is the block (asked once per process). Undefined where the build has no NCHWc
 * kernels or the answer is 4 or less, which cannot tell a block of 4 from none.
 */
export function probeNchwcBlock(): Promise<number | undefined> {
  return (probed ??= probe());
}
let probed: Promise<number | undefined> | undefined;

async function probe(): Promise<number | undefined> {
  const g = new Graph(false);
  const x = g.input('x', [1, 1, 1, 4]);
  const y = g.emit('ReorderInput', [x], [1, 4, 1, 1], { channels_last: 1 }, NCHWC);
  const { proto } = g.toModel({ y }, { name: 'nchwc_probe' });
  proto.opsets.push({ domain: NCHWC, version: 1 });
  try {
    const s = await OnnxSession.create(encodeModel(proto), 'NCHWc probe', { threads: 1 });
    const out = await s.run({ x: { dtype: 'float32', shape: [1, 1, 1, 4], data: new Float32Array(4) } });
    await s.release();
    const block = out.y.shape[1];
    return block >= 8 ? block : undefined;
  } catch {
    return undefined;
  }
}
