/**
 * The VJP of a 2-D Conv (dense, grouped or depthwise, any stride and symmetric padding) in standard ops:
 * ORT's inference build has no ConvGrad kernel.
 */
import { FlattenError } from '../../../core/errors.js';
import type { GraphNode } from '../graph.js';
import type { Vjp } from './builder.js';

function convAttrs(n: GraphNode) {
  const a = n.attrs ?? {};
  const [s, s2] = (a.strides as number[]) ?? [1, 1];
  const [p, p2, p3, p4] = (a.pads as number[]) ?? [0, 0, 0, 0];
  const d = (a.dilations as number[]) ?? [1, 1];
  if (s !== s2 || p !== p2 || p !== p3 || p !== p4 || d.some((v) => v !== 1) || a.auto_pad)
    throw new FlattenError(
      'BAD_ARGUMENT',
      'backward: Conv with unequal strides or pads, or dilation (the trace writes none)',
    );
  return { stride: s, pad: p, groups: (a.group as number) ?? 1 };
}

export const conv: Record<string, Vjp> = {
  // y = conv(x, w) + bias; x (N, C, H, W), w (O, C/g, kh, kw), y and dy (N, O, Ho, Wo)
  Conv: (b, node, dy, need) => {
    const [x, w, bias] = node.inputs.map((v) => v!);
    const { stride: s, pad: p, groups: g } = convAttrs(node);
    const [N, C, H, W] = x.shape;
    const [O, cg, kh, kw] = w.shape;
    const [, , Ho, Wo] = dy.shape;
    const og = O / g;
    // dx: the transposed conv of dy with the same weight (ConvTranspose reads w as (in = O, out/g = C/g, kh, kw));
    // output_padding restores the rows and columns the stride dropped
    const dx = need[0]
      ? b.emit('ConvTranspose', [dy, w], [N, C, H, W], {
          kernel_shape: [kh, kw],
          strides: [s, s],
          pads: [p, p, p, p],
          group: g,
          output_padding: [H + 2 * p - s * (Ho - 1) - kh, W + 2 * p - s * (Wo - 1) - kw],
        })
      : undefined;
    // dw[o, c, i, j] = Σ_{n, y, x} x[n, γ·cg + c, y·s + i − p, x·s + j − p]·dy[n, o, y, x] (γ = o's group) is itself
    // a grouped conv: the channel-in-group c plays the batch, (γ, n) the input channels, (γ, o') the outputs, and
    // dy the filter, dilated by the stride. xt (cg, g·N, H, W) ⋆ dyt (O, N, Ho, Wo) → (cg, O, kh', kw'), kh' ≥ kh
    let dw;
    if (need[1]) {
      const xt = b.reshape(b.transpose(b.reshape(x, [N, g, cg, H, W]), [2, 1, 0, 3, 4]), [cg, g * N, H, W]);
      const dyt = b.reshape(b.transpose(b.reshape(dy, [N, g, og, Ho, Wo]), [1, 2, 0, 3, 4]), [O, N, Ho, Wo]);
      const [fh, fw] = [H + 2 * p - s * (Ho - 1), W + 2 * p - s * (Wo - 1)];
      let full = b.emit('Conv', [xt, dyt], [cg, O, fh, fw], {
        kernel_shape: [Ho, Wo],
        dilations: [s, s],
        pads: [p, p, p, p],
        group: g,
      });
      // rows past kh are taps no output reads when the stride does not divide (H + 2p − kh)
      if (fh !== kh || fw !== kw)
        full = b.emit('Slice', [full, b.ints([0, 0]), b.ints([kh, kw]), b.ints([2, 3])], [cg, O, kh, kw]);
      dw = b.transpose(full, [1, 0, 2, 3]); // (O, cg, kh, kw)
    }
    // dbias = Σ over n, y, x of dy: (O)
    const db = bias && need[2] ? b.reshape(b.sumKeep(dy, [0, 2, 3]), [O]) : undefined;
    return [dx, dw, db];
  },
};
