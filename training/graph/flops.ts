/** FLOP counting of matrix products in an ONNX model with static shapes (as the builder emits them). */

import type { Dim, ModelIR } from '../onnx/proto.js';

export interface FlopCount {
  /** 2 * M * N * K summed over MatMul and Gemm nodes (times batch size for batched MatMul). */
  matmul: number;
  /** Number of MatMul/Gemm nodes counted. */
  nodes: number;
}

function staticShape(shape: Dim[] | null | undefined, name: string): number[] {
  if (!shape || shape.some((d) => typeof d !== 'number')) throw new Error(`countFlops: ${name} has no static shape`);
  return shape as number[];
}

/** Count matrix-product FLOPs; every MatMul/Gemm input needs a static shape in inputs, initializers or value_info. */
export function countFlops(model: ModelIR): FlopCount {
  const g = model.graph;
  const shapes = new Map<string, Dim[] | null>();
  for (const v of [...g.inputs, ...(g.valueInfo ?? []), ...g.outputs]) shapes.set(v.name, v.shape);
  for (const t of g.initializers) shapes.set(t.name, t.dims);
  let matmul = 0;
  let nodes = 0;
  for (const n of g.nodes) {
    if (n.opType !== 'MatMul' && n.opType !== 'Gemm') continue;
    const a = staticShape(shapes.get(n.inputs[0]), n.inputs[0]);
    const b = staticShape(shapes.get(n.inputs[1]), n.inputs[1]);
    let m: number, k: number, cols: number;
    let batch = 1;
    if (n.opType === 'Gemm') {
      const ta = n.attributes?.transA && 'i' in n.attributes.transA && n.attributes.transA.i === 1;
      const tb = n.attributes?.transB && 'i' in n.attributes.transB && n.attributes.transB.i === 1;
      [m, k] = ta ? [a[1], a[0]] : [a[0], a[1]];
      cols = tb ? b[0] : b[1];
    } else {
      if (a.length < 2 || b.length < 2) throw new Error('countFlops: 1-D MatMul operands are not supported');
      [m, k] = a.slice(-2);
      cols = b[b.length - 1];
      const out = staticShape(shapes.get(n.outputs[0]), n.outputs[0]);
      batch = out.slice(0, -2).reduce((x, y) => x * y, 1);
    }
    matmul += 2 * batch * m * k * cols;
    nodes++;
  }
  return { matmul, nodes };
}
