/**
 * TF 'SAME' padding math, checked against tfjs: a SAME convolution must equal a convolution with the explicit
 * pads samePadding() computes, and convOutputSize() must predict its output size.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs';

import { convOutputSize, effectiveKernel, samePadding } from '../../../training/convert/padding.js';
import { randomArray } from './helpers.js';

void describe('samePadding', () => {
  void it('reproduces tfjs SAME convolutions for all small sizes, kernels, strides and dilations', () => {
    let cases = 0;
    for (let size = 1; size <= 11; size++) {
      for (let k = 1; k <= 5; k++) {
        for (let s = 1; s <= 3; s++) {
          for (const d of s === 1 ? [1, 2] : [1]) {
            const [pb, pe] = samePadding(size, k, s, d);
            const outSize = convOutputSize(size, k, s, d, pb, pe);
            assert.equal(outSize, Math.ceil(size / s), `out size in=${size} k=${k} s=${s} d=${d}`);
            const [same, explicit] = tf.tidy(() => {
              const x = tf.tensor4d(randomArray(size * (size + 1), size * 100 + k), [1, size, size + 1, 1]);
              const w = tf.tensor4d(randomArray(k * k, k), [k, k, 1, 1]);
              const [qb, qe] = samePadding(size + 1, k, s, d);
              const pads: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [pb, pe], [qb, qe], [0, 0]];
              return [tf.conv2d(x, w, s, 'same', 'NHWC', d).arraySync(), tf.conv2d(x, w, s, pads, 'NHWC', d).arraySync()];
            });
            assert.deepEqual(explicit, same, `in=${size} k=${k} s=${s} d=${d}`);
            cases++;
          }
        }
      }
    }
    assert.ok(cases > 200);
  });

  void it('puts the odd padding element at the end and never pads negatively', () => {
    for (let size = 1; size <= 40; size++) {
      for (let k = 1; k <= 7; k++) {
        for (let s = 1; s <= 4; s++) {
          const [b, e] = samePadding(size, k, s);
          assert.ok(b >= 0 && e >= b && e - b <= 1, `in=${size} k=${k} s=${s}: [${b}, ${e}]`);
        }
      }
    }
  });

  void it('rejects non-positive or fractional geometry', () => {
    assert.throws(() => samePadding(0, 3, 1), RangeError);
    assert.throws(() => samePadding(5, 3, 1.5), RangeError);
    assert.throws(() => convOutputSize(2, 5, 1, 1, 0, 0), /does not fit/);
    assert.equal(effectiveKernel(3, 2), 5);
  });
});
