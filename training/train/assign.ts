/** Nearest-centroid assignment for k-means on ONNX Runtime (one Gemm + ArgMax/ReduceMax per chunk of rows). */

import { Tensor as OrtTensor, type InferenceSession } from 'onnxruntime-node';
import type { ModelIR } from '../onnx/proto.js';
import type { Assigner } from './kmeans.js';

/** x ['N', d], centroids ['K', d] -> labels int64 [N] (first maximum), similarity float [N]. */
export function assignmentModel(d: number): ModelIR {
  return {
    opsetVersion: 18,
    irVersion: 8,
    producerName: 'shoebox',
    graph: {
      name: 'kmeans-assign',
      nodes: [
        { opType: 'Gemm', inputs: ['x', 'centroids'], outputs: ['scores'], name: 'scores', attributes: { transB: { i: 1 } } },
        { opType: 'ArgMax', inputs: ['scores'], outputs: ['labels'], name: 'argmax', attributes: { axis: { i: 1 }, keepdims: { i: 0 } } },
        { opType: 'ReduceMax', inputs: ['scores', 'axes'], outputs: ['similarity'], name: 'max', attributes: { keepdims: { i: 0 } } },
      ],
      initializers: [{ name: 'axes', dtype: 'int64', dims: [1], data: BigInt64Array.of(1n) }],
      inputs: [
        { name: 'x', dtype: 'float32', shape: ['N', d] },
        { name: 'centroids', dtype: 'float32', shape: ['K', d] },
      ],
      outputs: [
        { name: 'labels', dtype: 'int64', shape: ['N'] },
        { name: 'similarity', dtype: 'float32', shape: ['N'] },
      ],
    },
  };
}

/** An {@link Assigner} over the rows of `x` [n, d] running `assignmentModel(d)` in `session`, in fixed-size chunks. */
export function ortAssigner(session: InferenceSession, x: Float32Array, n: number, d: number, chunk = 4096): Assigner {
  return async (centroids, k) => {
    const labels = new Int32Array(n);
    const similarity = new Float32Array(n);
    const c = new OrtTensor('float32', centroids, [k, d]);
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      const out = await session.run({ x: new OrtTensor('float32', x.subarray(start * d, (start + rows) * d), [rows, d]), centroids: c });
      const l = out.labels.data as BigInt64Array;
      for (let i = 0; i < rows; i++) labels[start + i] = Number(l[i]);
      similarity.set(out.similarity.data as Float32Array, start);
    }
    return { labels, similarity };
  };
}
