import { FlattenError } from '../core/errors.js';
import type { Tensor } from '../ops/ops.js';
import type { Ctx } from '../ops/ctx.js';
import { fromWindows, imageToTokens, roll, toWindows, tokensToImage } from '../ops/compose.js';
import { Conv2d, LayerNorm, Linear } from '../nn/layers.js';
import { Module, type ParamTable } from '../nn/module.js';
import { bicubicMatrix } from '../nn/resample.js';
import { FocusedLinearCore } from './focused.js';

/** Options of {@link FocusedLinearAttention}; only `dim` and `numHeads` are required. */
export interface FocusedLinearAttentionOptions {
  /** Channels C of x (and of the output). */
  dim: number;
  /** Heads h; C must be a multiple of h. */
  numHeads: number;
  /** Focusing power p of f_p (default 3, the paper's). */
  focusingFactor?: number;
  /** Kernel of the head-shared depthwise conv (default 5). */
  kernelSize?: number;
  /** Biases on the q/k/v projections (default true, what every released FLatten model uses). */
  qkvBias?: boolean;
  /**
   * Attend within non-overlapping window×window tiles of the grid, as Swin (parameters `qkv`, `proj`, and a
   * window² `positional_encoding`). Self-attention only; the grid must be a multiple of the window.
   */
  window?: number;
  /** With `window`: shift the windows by this many tokens (Swin's odd blocks; the focused attention takes no mask). */
  shift?: number;
  /**
   * Reduce keys and values by an sr×sr strided conv and a LayerNorm, as PVT (parameters `sr`, `norm`). Default 1.
   * Not with `window`.
   */
  srRatio?: number;
  /**
   * The grid the keys come from, which sizes `positional_encoding` (one row per key): x's grid for
   * self-attention, the context's for cross-attention, before the sr reduction (the keys lie on
   * ⌊H/sr⌋×⌊W/sr⌋). A forward on another grid resamples the table bicubically (timm's dynamic size). A number
   * n is a context of n tokens with no grid (text, say), which every forward must match. Required without
   * `window`.
   */
  grid?: [number, number] | number;
  /** Channels of a cross-attention context (default `dim`). */
  contextDim?: number;
}

/** Keys and values for cross-attention: tokens (B, M, C_ctx), on their own H_c×W_c grid when they have one. */
export interface AttentionContext {
  tokens: Tensor;
  grid?: [number, number];
}

const layerName = (prefix: string) => `FocusedLinearAttention${prefix ? ` '${prefix}'` : ''}`;
const sameGrid = (a?: [number, number], b?: [number, number]) => !!a && !!b && a[0] === b[0] && a[1] === b[1];

/**
 * Focused linear attention (Han et al., ICCV 2023) as a layer for your own networks, over the engine-neutral
 * `Ops` (so it trains on tfjs and exports to ONNX). For tokens x (B, N = H·W, C):
 *
 *   O = proj(𝓕(Q, K, V) + 𝓓(V; H, W)),   𝓕 = φ_p(Q)·(φ_p(K + PE)ᵀV) / (φ_p(Q)·mean φ_p(K + PE)),
 *
 * where φ_p is ReLU, a softplus temperature (`scale`) and the focusing map f_p, and 𝓓 the head-shared
 * depthwise conv (`dwc`) that restores the rank of the attention. With a context (cross-attention), Q comes
 * from x and K, V from the context, and the conv goes on Q, O = proj(𝓕(Q, K, V) + 𝓓(Q; H, W)), as the
 * authors advise (FLatten-Transformer issue #19): V lies on the context's grid, Q on x's, so the output keeps
 * x's grid. Parameter names are the official modules' (PVT's `q`, `kv`, `sr`, `norm`; Swin's `qkv` with a
 * window), so the attention weights of an official block bind to it.
 */
export class FocusedLinearAttention extends Module {
  readonly opts: Required<Omit<FocusedLinearAttentionOptions, 'grid'>> & Pick<FocusedLinearAttentionOptions, 'grid'>;
  /** Swin's fused projection (windowed layers). */
  readonly qkv?: Linear;
  /** PVT's projections: q from x, [k|v] from x or the context. */
  readonly q?: Linear;
  readonly kv?: Linear;
  readonly sr?: Conv2d;
  readonly norm?: LayerNorm;
  readonly proj: Linear;
  readonly focused: FocusedLinearCore;
  /** The grid `positional_encoding` is laid on without a window (undefined for a gridless context). */
  private readonly peGrid?: [number, number];

  constructor(table: ParamTable, prefix: string, options: FocusedLinearAttentionOptions) {
    super(table, prefix);
    const o = {
      focusingFactor: 3,
      kernelSize: 5,
      qkvBias: true,
      window: 0,
      shift: 0,
      srRatio: 1,
      contextDim: options.dim,
      ...options,
    };
    this.opts = o;
    const bad = (msg: string) => new FlattenError('BAD_CONFIG', `${layerName(prefix)}: ${msg}`);
    if (!(o.dim > 0 && o.numHeads > 0 && o.dim % o.numHeads === 0))
      throw bad(`dim ${o.dim} is not divisible by numHeads ${o.numHeads}`);
    for (const [name, v, min] of [
      ['srRatio', o.srRatio, 1],
      ['window', o.window, 0],
      ['shift', o.shift, 0],
    ] as const)
      if (!Number.isInteger(v) || v < min) throw bad(`${name} must be an integer ≥ ${min}, not ${v}`);
    if (o.window && (o.srRatio > 1 || options.contextDim !== undefined))
      throw bad(
        'window is for self-attention without srRatio (a window and a reduced or other context do not tile alike)',
      );
    if (o.shift && (!o.window || o.shift >= o.window)) throw bad(`shift ${o.shift} needs a window larger than it`);
    if (!o.window && o.grid === undefined)
      throw bad('grid is required without a window (it sizes positional_encoding)');
    const core = { dim: o.dim, heads: o.numHeads, focusingFactor: o.focusingFactor, kernelSize: o.kernelSize };
    if (o.window) {
      // Swin's order: the core's parameters, then qkv and proj
      this.focused = new FocusedLinearCore(table, prefix, { ...core, tokens: o.window ** 2 });
      this.qkv = new Linear(table, this.sub('qkv'), o.dim, 3 * o.dim, o.qkvBias);
      this.proj = new Linear(table, this.sub('proj'), o.dim, o.dim);
      return;
    }
    // PVT's order: q, kv, proj, sr, norm, then the core's
    const r = o.srRatio;
    this.q = new Linear(table, this.sub('q'), o.dim, o.dim, o.qkvBias);
    this.kv = new Linear(table, this.sub('kv'), o.contextDim, 2 * o.dim, o.qkvBias);
    this.proj = new Linear(table, this.sub('proj'), o.dim, o.dim);
    if (r > 1) {
      this.sr = new Conv2d(table, this.sub('sr'), o.contextDim, o.contextDim, { kernel: r, stride: r });
      this.norm = new LayerNorm(table, this.sub('norm'), o.contextDim, 1e-5);
    }
    const grid = o.grid!;
    this.peGrid = typeof grid === 'number' ? undefined : [Math.floor(grid[0] / r), Math.floor(grid[1] / r)];
    const tokens = typeof grid === 'number' ? grid : this.peGrid![0] * this.peGrid![1];
    this.focused = new FocusedLinearCore(table, prefix, { ...core, tokens });
  }

  /**
   * x (B, N = H·W, C) on `grid` [H, W] → (B, N, C). With `context` (tokens (B, M, C_ctx), optionally on
   * their grid), cross-attention: queries from x, keys and values from the context.
   */
  forward(ctx: Ctx, x: Tensor, grid: [number, number], context?: AttentionContext): Tensor {
    const { ops } = ctx;
    const [b, n, c] = ops.shape(x);
    const [h, w] = grid;
    if (c !== this.opts.dim) throw this.fail(`x has ${c} channels, not dim ${this.opts.dim}`);
    if (h * w !== n) throw this.fail(`grid ${h}×${w} holds ${h * w} tokens but x has ${n}`);
    if (this.qkv) {
      if (context) throw this.fail('a windowed layer attends within x only (no context)');
      return this.windowed(ctx, x, grid);
    }
    const q = this.q!.forward(ctx, x); // (B, N, C)
    const src = context ?? { tokens: x, grid };
    const { tokens: r, grid: keyGrid } = this.reduce(ctx, src, b); // (B, n_k, C_ctx) on ⌊H_c/sr⌋×⌊W_c/sr⌋
    const kv = this.kv!.forward(ctx, r); // (B, n_k, 2C)
    const nk = ops.shape(kv)[1];
    const k = ops.slice(kv, [0, 0, 0], [b, nk, c]);
    const v = ops.slice(kv, [0, 0, c], [b, nk, c]);
    const o = this.focused.core(ctx, q, k, v, this.positionalEncoding(ctx, nk, keyGrid)); // (B, N, C)
    // self: 𝓓(V) with V brought back to N tokens as PVT does (along the flattened axis; identity when sr = 1);
    // cross: 𝓓(Q), which lies on x's grid whatever the context's
    const local = context ? q : ops.interpolateLinear(v, 1, n); // (B, N, C)
    return this.proj.forward(ctx, ops.add(o, this.focused.dwc(ctx, local, grid)));
  }

  /** Swin-style: windows of x (B, H·W, C) → (B·nW, w², C), attention in each, back to (B, H·W, C). */
  private windowed(ctx: Ctx, x: Tensor, [h, wd]: [number, number]): Tensor {
    const { ops } = ctx;
    const { window: w, shift: s } = this.opts;
    if (h % w || wd % w) throw this.fail(`window ${w} does not tile the ${h}×${wd} grid`);
    const [b, , c] = ops.shape(x);
    let y = ops.reshape(x, [b, h, wd, c]); // (B, H, W, C)
    if (s) y = roll(ops, roll(ops, y, -s, 1), -s, 2);
    y = toWindows(ops, y, [h, wd], [w, w]); // (B·nW, w², C)
    const [bw, n] = ops.shape(y);
    const qkv = this.qkv!.forward(ctx, y); // (B·nW, w², 3C)
    const q = ops.slice(qkv, [0, 0, 0], [bw, n, c]);
    const k = ops.slice(qkv, [0, 0, c], [bw, n, c]);
    const v = ops.slice(qkv, [0, 0, 2 * c], [bw, n, c]);
    y = this.proj.forward(ctx, ops.add(this.focused.core(ctx, q, k, v), this.focused.dwc(ctx, v, [w, w])));
    y = ops.reshape(fromWindows(ops, y, [h, wd], [w, w]), [b, h, wd, c]);
    if (s) y = roll(ops, roll(ops, y, s, 1), s, 2);
    return ops.reshape(y, [b, h * wd, c]);
  }

  /** The keys' source, checked and spatially reduced: (B, M, C_ctx) → (B, n_k, C_ctx) and the keys' grid. */
  private reduce(ctx: Ctx, src: AttentionContext, batch: number): AttentionContext {
    const { ops } = ctx;
    const [b, m, c] = ops.shape(src.tokens);
    const { contextDim, srRatio: r } = this.opts;
    if (b !== batch) throw this.fail(`the context has batch ${b} but x has ${batch}`);
    if (c !== contextDim) throw this.fail(`the context has ${c} channels, not contextDim ${contextDim}`);
    const g = src.grid;
    if (g && g[0] * g[1] !== m)
      throw this.fail(`context grid ${g[0]}×${g[1]} holds ${g[0] * g[1]} tokens but the context has ${m}`);
    if (!this.sr || !this.norm) return src;
    if (!g) throw this.fail(`srRatio ${r} needs the context's grid`);
    if (g[0] < r || g[1] < r) throw this.fail(`srRatio ${r} is larger than the ${g[0]}×${g[1]} grid`);
    // a strided conv floors a grid that sr does not divide, as PyTorch's does
    const image = this.sr.forward(ctx, tokensToImage(ops, src.tokens, g[0], g[1])); // (B, C, ⌊H/sr⌋, ⌊W/sr⌋)
    const [, , hr, wr] = ops.shape(image);
    return { tokens: this.norm.forward(ctx, imageToTokens(ops, image)), grid: [hr, wr] };
  }

  /**
   * `positional_encoding` for n keys on `grid` (1, n, C): the stored table, or, on another grid, the table
   * resampled bicubically (align_corners = false, as timm's resample_abs_pos_embed) by two constant matmuls.
   */
  private positionalEncoding(ctx: Ctx, n: number, grid?: [number, number]): Tensor {
    const { ops } = ctx;
    const pe = ctx.p(this.focused.pe); // (1, n_pe, C)
    const [, stored, c] = ops.shape(pe);
    const from = this.peGrid;
    if (!grid || !from || sameGrid(from, grid)) {
      if (n !== stored)
        throw this.fail(
          `positional_encoding holds ${stored} keys but this forward has ${n}` +
            (from ? ' and no grid to resample it to' : ' (a gridless context keeps its length)'),
        );
      return pe;
    }
    const [[gh, gw], [h, w]] = [from, grid];
    const mat = (src: number, dst: number, shape: number[]) =>
      ops.constant({ dtype: 'float32', shape, data: bicubicMatrix(src, dst) });
    const rows = ops.matmul(mat(gh, h, [h, gh]), ops.reshape(pe, [gh, gw * c])); // (H, gw·C)
    const cols = ops.matmul(mat(gw, w, [1, w, gw]), ops.reshape(rows, [h, gw, c])); // (H, W, C)
    return ops.reshape(cols, [1, h * w, c]);
  }

  private fail(msg: string): FlattenError {
    return new FlattenError('BAD_SHAPE', `${layerName(this.prefix)}: ${msg}`);
  }
}
