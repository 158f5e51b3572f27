/** Graph builder behaviour besides gradients: shapes, naming, pruning, stop-gradient, FLOP counting. */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, OPSET } from '../../training/graph/graph.js';
import { countFlops } from '../../training/graph/flops.js';
import { decodeModel, encodeModel } from '../../training/onnx/proto.js';
import { maxAbsDiff, runOnce } from './helpers.js';

describe('Graph builder', () => {
  it('infers static shapes with broadcasting and validates them', () => {
    const g = new Graph('float32');
    const x = g.input('x', [4, 1, 3]);
    assert.deepEqual(g.add(x, g.input('y', [5, 1])).shape, [4, 5, 3]);
    assert.deepEqual(g.matmul(g.input('a', [2, 1, 3, 4]), g.input('b', [6, 4, 5])).shape, [2, 6, 3, 5]);
    assert.deepEqual(g.gemm(g.input('c', [4, 3]), g.input('d', [5, 4]), undefined, { transA: true, transB: true }).shape, [3, 5]);
    assert.deepEqual(g.reduceSum(x, [0, -1]).shape, [1]);
    assert.deepEqual(g.reduceMean(x, [1], true).shape, [4, 1, 3]);
    assert.deepEqual(g.reshape(x, [-1, 6]).shape, [2, 6]);
    assert.deepEqual(g.unsqueeze(x, [0, 4]).shape, [1, 4, 1, 3, 1]);
    assert.deepEqual(g.squeeze(x).shape, [4, 3]);
    assert.deepEqual(g.slice(g.input('s', [10, 4]), [1, 0], [-1, 4], [0, 1], [3, 2]).shape, [3, 2]);
    assert.deepEqual(g.gather(g.input('t', [7, 3]), g.input('i', [2, 5], 'int64'), 0).shape, [2, 5, 3]);
    assert.throws(() => g.add(x, g.input('bad', [2, 4])), /do not broadcast/);
    assert.throws(() => g.matmul(g.input('m1', [2, 3]), g.input('m2', [4, 2])), /inner dimensions/);
    assert.throws(() => g.reshape(x, [5, -1]), /cannot reshape/);
    assert.throws(() => g.input('x', [1]), /duplicate/);
  });

  it('exports only what the outputs need, keeps declared inputs, and names outputs', async () => {
    const g = new Graph('float64');
    const a = g.input('a', [3]);
    const b = g.input('b', [3]);
    g.exp(a); // dead code
    const sum = g.add(a, b);
    const model = g.toModel({ sum, alsoA: a });
    assert.equal(model.opsetVersion, OPSET);
    assert.deepEqual(
      model.graph.inputs.map((i) => i.name),
      ['a', 'b'],
    );
    assert.deepEqual(model.graph.nodes.map((n) => n.opType).sort(), ['Add', 'Identity']); // sum is renamed, not copied
    const round = decodeModel(encodeModel(model));
    assert.deepEqual(
      round.graph.outputs.map((o) => o.name),
      ['sum', 'alsoA'],
    );
    const out = await runOnce(model, {
      a: { data: Float64Array.of(1, 2, 3), dims: [3] },
      b: { data: Float64Array.of(10, 20, 30), dims: [3] },
    });
    assert.deepEqual(Array.from(out.sum as Float64Array), [11, 22, 33]);
    assert.deepEqual(Array.from(out.alsoA as Float64Array), [1, 2, 3]);
  });

  it('stopGradient blocks gradients and unreachable parameters get zeros', async () => {
    const g = new Graph('float64');
    const w = g.param('w', [3]);
    const unused = g.param('unused', [2]);
    // d/dw sum(w * stop(w)) = stop(w), not 2w.
    const loss = g.reduceSum(g.mul(w, g.stopGradient(w)));
    const [dw, du] = g.grad(loss, [w, unused]);
    const out = await runOnce(g.toModel({ dw, du }), {
      w: { data: Float64Array.of(1, -2, 3), dims: [3] },
      unused: { data: Float64Array.of(5, 6), dims: [2] },
    });
    assert.deepEqual(Array.from(out.dw as Float64Array), [1, -2, 3]);
    assert.deepEqual(Array.from(out.du as Float64Array), [0, 0]);
  });

  it('a seed lets grad differentiate non-scalar values (vector-Jacobian product)', async () => {
    const g = new Graph('float64');
    const x = g.param('x', [2, 2]);
    const y = g.mul(x, x);
    const [dx] = g.grad(y, [x], g.input('seed', [2, 2]));
    const out = await runOnce(g.toModel({ dx }), {
      x: { data: Float64Array.of(1, 2, 3, 4), dims: [2, 2] },
      seed: { data: Float64Array.of(1, 0, 2, -1), dims: [2, 2] },
    });
    assert.ok(maxAbsDiff(out.dx, [2, 0, 12, -8]) < 1e-15);
    assert.throws(() => g.grad(y, [x]), /not a scalar/);
  });

  it('counts matrix-product FLOPs from the exported model', () => {
    const g = new Graph('float32');
    const x = g.input('x', [8, 16]);
    const w = g.param('w', [16, 4]);
    const y = g.matmul(x, w); // 2*8*16*4
    const z = g.matmul(g.input('b', [3, 8, 16]), w); // 3 * 2*8*16*4
    const loss = g.add(g.reduceSum(y), g.reduceSum(z));
    const [dw] = g.grad(loss, [w]); // Gemm(x^T gy): 2*16*8*4; batched rows folded: Gemm(b'^T gz'): 2*16*24*4
    const flops = countFlops(g.toModel({ loss, dw }));
    assert.equal(flops.matmul, 2 * 8 * 16 * 4 + 3 * 2 * 8 * 16 * 4 + 2 * 16 * 8 * 4 + 2 * 16 * 24 * 4);
    assert.equal(flops.nodes, 4);
  });
});
