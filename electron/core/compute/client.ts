/**
 * Run a {@link ComputeApi} function in a worker thread of its own (started per call: the calls are few and long,
 * so its start-up of a few tens of milliseconds does not matter). Aborting `signal` terminates the worker.
 */
import { Worker } from 'node:worker_threads';
import type { ComputeApi, ComputeMethod, ComputeReply } from './api.js';

export function compute<M extends ComputeMethod>(method: M, args: Parameters<ComputeApi[M]>, signal?: AbortSignal): Promise<ReturnType<ComputeApi[M]>> {
  signal?.throwIfAborted();
  const worker = new Worker(new URL('./worker.js', import.meta.url));
  return new Promise<ReturnType<ComputeApi[M]>>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      fn();
    };
    const onAbort = (): void => finish(() => reject(signal!.reason ?? new DOMException('Cancelled', 'AbortError')));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (r: ComputeReply) =>
      finish(() => (r.ok ? resolve(r.value as ReturnType<ComputeApi[M]>) : reject(new Error(`${method}: ${r.message}`)))),
    );
    worker.once('error', (e) => finish(() => reject(e)));
    worker.once('exit', (code) => finish(() => reject(new Error(`${method}: the compute worker exited (code ${code})`))));
    worker.postMessage({ method, args });
  });
}
