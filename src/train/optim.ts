import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export interface TrainParam {
  path: string;
  variable: tf.Variable;
  /** Biases, norms, `scale`, `positional_encoding` and position tables get no weight decay. */
  noDecay: boolean;
}

/**
 * AdamW exactly as torch.optim.AdamW: decoupled decay p ← p·(1 − lr·wd), then the bias-corrected Adam step
 * p ← p − lr·m̂/(√v̂ + eps). Moments are tf.Variables keyed by parameter path, so they save and load by name.
 */
export class AdamW {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  step = 0;

  constructor(
    readonly params: TrainParam[],
    readonly opts: AdamWOptions,
  ) {
    for (const p of params) {
      this.m.set(p.path, tf.variable(tf.zerosLike(p.variable), false));
      this.v.set(p.path, tf.variable(tf.zerosLike(p.variable), false));
    }
  }

  /** One update with learning rate `lr` from gradients keyed by path. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.opts;
    this.step++;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      for (const p of this.params) {
        const g = grads.get(p.path);
        if (!g) continue;
        const m = this.m.get(p.path)!;
        const v = this.v.get(p.path)!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const decayed = p.noDecay || !weightDecay ? p.variable : tf.mul(p.variable, 1 - lr * weightDecay);
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        p.variable.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    });
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/** Scale gradients so their global L2 norm is at most maxNorm (torch clip_grad_norm_); returns the norm before clipping. */
export function clipGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: tf.Scalar } {
  const norm = tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
  if (!(maxNorm > 0)) return { grads, norm };
  const factor = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
  const out = new Map<string, tf.Tensor>();
  for (const [k, g] of grads) out.set(k, tf.mul(g, factor));
  return { grads: out, norm };
}

/**
 * One optimizer step from a batch's gradients: clip their global norm to `clipGrad` (off when ≤ 0), apply
 * AdamW at `lr`, and free the gradients. Returns the norm before clipping.
 */
export function applyStep(opt: AdamW, grads: Map<string, tf.Tensor>, lr: number, clipGrad: number): number {
  try {
    return tf.tidy(() => {
      const { grads: clipped, norm } = clipGlobalNorm(grads, clipGrad);
      opt.apply(clipped, lr);
      return norm.dataSync()[0];
    });
  } finally {
    tf.dispose([...grads.values()]);
  }
}
