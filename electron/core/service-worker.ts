/**
 * Worker-thread entry: hosts a LibraryService and answers messages from WorkerCore (service-client.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ApiMethod } from './api/contract.js';
import { toApiError } from './errors.js';
import { openCore, type CoreOptions } from './service.js';
import type { ToWorker } from './service-client.js';

const port = parentPort;
if (!port) throw new Error('service-worker must run in a worker thread');

const opts = workerData as CoreOptions;
const core = await openCore({ ...opts, inWorker: false });
core.subscribe((event) => port.postMessage({ type: 'event', event }));

port.on('message', (msg: ToWorker) => {
  void (async () => {
    try {
      if (msg.type === 'call') {
        const result = await core.call(msg.method as ApiMethod, msg.args);
        port.postMessage({ type: 'reply', id: msg.id, result });
      } else if (msg.type === 'image') {
        const file = await core.imagePath(msg.photoId, msg.kind);
        port.postMessage({ type: 'reply', id: msg.id, result: file });
      } else if (msg.type === 'close') {
        await core.close();
        port.postMessage({ type: 'reply', id: msg.id, result: null });
        port.close();
      }
    } catch (e) {
      port.postMessage({ type: 'reply', id: msg.id, result: { ok: false, error: toApiError(e) } });
    }
  })();
});
port.postMessage({ type: 'ready' });
