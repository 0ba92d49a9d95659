import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initTfjs } from '../../src/engines/tfjs/backend.js';

// The wasm Slice kernel is replaced (src/engines/tfjs/kernels.ts); it must agree with the reference
// semantics on every kind of slice: contiguous, strided on any axis, several axes, empty, int32.
describe('wasm Slice kernel', () => {
  const cases: [number[], number[], number[]][] = [
    [[10], [3], [4]],
    [
      [6, 7],
      [1, 2],
      [3, 4],
    ],
    [
      [6, 7],
      [2, 0],
      [3, 7],
    ],
    [
      [4, 5, 12],
      [0, 0, 4],
      [4, 5, 4],
    ],
    [
      [4, 5, 12],
      [1, 2, 0],
      [2, 3, 12],
    ],
    [
      [2, 3, 4, 5],
      [1, 0, 1, 2],
      [1, 3, 2, 3],
    ],
    [
      [2, 3, 4, 5, 6],
      [0, 1, 1, 0, 3],
      [2, 2, 3, 5, 2],
    ],
    [
      [3, 4],
      [0, 1],
      [3, 0],
    ],
  ];
  it('matches plain indexing on every shape', async () => {
    expect(await initTfjs('wasm')).toBe('wasm');
    expect(tf.getKernel('Slice', 'wasm')?.kernelFunc.name).toBe('sliceInPlace'); // ours, not the stock kernel
    for (const [shape, begin, size] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Float32Array.from({ length: n }, (_, i) => i);
      const got = tf.slice(tf.tensor(values, shape), begin, size);
      expect(got.shape).toEqual(size);
      // expected: walk every output index and read the input at begin + index
      const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
      const want: number[] = [];
      const total = size.reduce((a, b) => a * b, 1);
      for (let o = 0; o < total; o++) {
        let rest = o;
        let src = 0;
        for (let a = size.length - 1; a >= 0; a--) {
          src += (begin[a] + (rest % size[a])) * strides[a];
          rest = Math.floor(rest / size[a]);
        }
        want.push(values[src]);
      }
      expect(Array.from(got.dataSync())).toEqual(want);
    }
    const ints = tf.slice(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), [0, 1], [2, 2]);
    expect(ints.dtype).toBe('int32');
    expect(Array.from(ints.dataSync())).toEqual([2, 3, 5, 6]);
  });
});
