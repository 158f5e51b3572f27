import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countFlops, nodeMacs } from '../../../../electron/core/ml/flops.js';
import { encodeModel } from '../../../../training/onnx/proto.js';
import { syntheticEncoder } from '../../../../bench/fixtures/encoders.js';

void describe('countFlops', () => {
  void it('counts Conv and MatMul MACs of the synthetic encoder from its executed shapes', async () => {
    const width = 32;
    const height = 24;
    const dim = 10;
    const { bytes } = syntheticEncoder({ width, height, dim });
    // Independent count from the architecture: two 3x3 stride-2 pad-1 convs (3->16, 16->32), then 32->dim.
    const out = (n: number): number => Math.floor((n + 2 - 3) / 2) + 1;
    const [h1, w1] = [out(height), out(width)];
    const [h2, w2] = [out(h1), out(w1)];
    const conv = h1 * w1 * 16 * 3 * 9 + h2 * w2 * 32 * 16 * 9;
    const matmul = 32 * dim;
    for (const n of [1, 3]) {
      const c = await countFlops(bytes, { input: [n, height, width, 3] });
      assert.deepEqual(c.byOp, { Conv: n * conv, MatMul: n * matmul });
      assert.equal(c.macs, n * (conv + matmul));
      assert.equal(c.flops, 2 * c.macs);
    }
  });

  void it('counts Gemm with a transposed A', async () => {
    const [m, k, n] = [5, 7, 3];
    const model = encodeModel({
      opsetVersion: 17,
      graph: {
        name: 'gemm',
        nodes: [{ opType: 'Gemm', inputs: ['a', 'b'], outputs: ['y'], attributes: { transA: { i: 1 } } }],
        initializers: [{ name: 'b', dtype: 'float32', dims: [k, n], data: new Float32Array(k * n) }],
        inputs: [{ name: 'a', dtype: 'float32', shape: [k, m] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [m, n] }],
      },
    });
    assert.equal((await countFlops(model)).macs, m * k * n);
  });

  void it('ignores ops it does not count and nodes without shapes', () => {
    assert.equal(nodeMacs('Relu', [{ float: [1, 2] }], [{ float: [1, 2] }]), 0);
    assert.equal(nodeMacs('Conv', [], []), 0);
  });
});
