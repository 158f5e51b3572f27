import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { float16Bits, float16Value, fromFloat16, toFloat16 } from '../../../../electron/core/ml/float16.js';
import { rng } from '../../../../bench/fixtures/encoders.js';

void describe('float16', () => {
  void it('round-trips every half exactly (NaNs stay NaN)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const f = fromFloat16(all);
    const back = toFloat16(f);
    for (let i = 0; i < 65536; i++) {
      if (Number.isNaN(f[i])) assert.ok(Number.isNaN(float16Value(back[i])), `NaN ${i}`);
      else assert.equal(back[i], i, `bits ${i.toString(16)}`);
    }
  });

  void it('decodes the defining values', () => {
    assert.equal(float16Value(0x3c00), 1);
    assert.equal(float16Value(0xc000), -2);
    assert.equal(float16Value(0x7bff), 65504); // largest finite
    assert.equal(float16Value(0x0001), 2 ** -24); // smallest subnormal
    assert.equal(float16Value(0x0400), 2 ** -14); // smallest normal
    assert.equal(float16Value(0x7c00), Infinity);
    assert.ok(Object.is(float16Value(0x8000), -0));
  });

  void it('rounds random float32s to the nearest half', () => {
    const r = rng(3);
    const v = Float32Array.from({ length: 20000 }, (_, i) => r() * 2 ** ((i % 40) - 26));
    const h = fromFloat16(toFloat16(v));
    for (let i = 0; i < v.length; i++) {
      const bits = float16Bits(v[i]);
      const err = Math.abs(h[i] - v[i]);
      // No neighbouring half is closer.
      for (const n of [bits - 1, bits + 1]) {
        if ((n & 0x7fff) >= 0x7c00 || n < 0 || (n ^ bits) & 0x8000) continue;
        assert.ok(Math.abs(float16Value(n) - v[i]) >= err, `${v[i]}: ${h[i]} vs neighbour ${float16Value(n)}`);
      }
    }
  });

  void it('breaks ties to even, overflows to infinity and underflows to zero', () => {
    for (const bits of [0x3c00, 0x3c01, 0x0001, 0x0002, 0x03ff]) {
      const mid = (float16Value(bits) + float16Value(bits + 1)) / 2; // exactly representable in float32
      const even = bits % 2 === 0 ? bits : bits + 1;
      assert.equal(float16Bits(mid), even, `tie above ${bits.toString(16)}`);
      assert.equal(float16Bits(-mid), even | 0x8000);
    }
    assert.equal(float16Bits(65520), 0x7c00); // halfway past the largest finite rounds up
    assert.equal(float16Bits(65519), 0x7bff);
    assert.equal(float16Bits(1e10), 0x7c00);
    assert.equal(float16Bits(-Infinity), 0xfc00);
    assert.equal(float16Bits(2 ** -26), 0);
    assert.equal(float16Bits(-(2 ** -26)), 0x8000);
    assert.ok(Number.isNaN(float16Value(float16Bits(NaN))));
  });
});
