/** Dead-node removal on an ONNX model IR. */

import type { ModelIR, NodeIR } from './proto.js';

/** Drop the nodes and initializers no output depends on (e.g. after outputs were removed). */
export function pruneModel(model: ModelIR): ModelIR {
  const g = model.graph;
  const producer = new Map<string, NodeIR>();
  for (const nd of g.nodes) for (const o of nd.outputs) producer.set(o, nd);
  const needed = new Set<string>();
  const keep = new Set<NodeIR>();
  const stack = g.outputs.map((o) => o.name);
  while (stack.length) {
    const t = stack.pop()!;
    if (needed.has(t)) continue;
    needed.add(t);
    const nd = producer.get(t);
    if (nd && !keep.has(nd)) {
      keep.add(nd);
      for (const i of nd.inputs) if (i) stack.push(i);
    }
  }
  return {
    ...model,
    graph: {
      ...g,
      nodes: g.nodes.filter((nd) => keep.has(nd)),
      initializers: g.initializers.filter((t) => needed.has(t.name)),
      valueInfo: g.valueInfo?.filter((v) => needed.has(v.name)),
    },
  };
}
