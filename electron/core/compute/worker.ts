/** Worker-thread entry for {@link ComputeApi}: answers one request, then the client ends the thread. */
import { parentPort } from 'node:worker_threads';
import { clusterIntoAlbums, knnApprox } from '../cluster/index.js';
import type { ComputeApi, ComputeReply, ComputeRequest } from './api.js';

const impl: ComputeApi = { clusterIntoAlbums, knnApprox };

const port = parentPort;
if (!port) throw new Error('compute/worker must run in a worker thread');
port.on('message', (req: ComputeRequest) => {
  let reply: ComputeReply;
  try {
    const fn = impl[req.method] as (...a: unknown[]) => unknown;
    reply = { ok: true, value: fn(...req.args) };
  } catch (e) {
    reply = { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
});
