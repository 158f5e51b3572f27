/**
 * CoreHandle that proxies to a LibraryService running in a worker thread (service-worker.ts).
 */
import { Worker } from 'node:worker_threads';
import type { ApiEvent, ApiMethod, ApiResult, ApiValue } from './api/contract.js';
import type { CoreHandle, CoreOptions } from './handle.js';

export type ToWorker =
  | { type: 'call'; id: number; method: string; args: unknown }
  | { type: 'image'; id: number; photoId: number; kind: 'thumb' | 'preview' }
  | { type: 'close'; id: number };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

type FromWorker =
  | { type: 'ready' }
  | { type: 'event'; event: ApiEvent }
  | { type: 'reply'; id: number; result: unknown };

export class WorkerCore implements CoreHandle {
  private nextId = 1;
  private readonly pending = new Map<number, (v: unknown) => void>();
  private readonly listeners = new Set<(e: ApiEvent) => void>();
  private dead: Error | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'event') for (const l of this.listeners) l(m.event);
      else if (m.type === 'reply') {
        const resolve = this.pending.get(m.id);
        this.pending.delete(m.id);
        resolve?.(m.result);
      }
    });
    const fail = (e: Error): void => {
      this.dead = e;
      for (const resolve of this.pending.values()) {
        resolve({ ok: false, error: { code: 'INTERNAL', message: `The library worker stopped: ${e.message}` } });
      }
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  static start(opts: CoreOptions): Promise<WorkerCore> {
    const worker = new Worker(new URL('./service-worker.js', import.meta.url), { workerData: { ...opts, inWorker: false } });
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (m.type !== 'ready') return;
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve(new WorkerCore(worker));
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  }

  private request(msg: DistributiveOmit<ToWorker, 'id'>): Promise<unknown> {
    if (this.dead) return Promise.resolve({ ok: false, error: { code: 'INTERNAL', message: `The library worker stopped: ${this.dead.message}` } });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage({ ...msg, id });
    });
  }

  async call<M extends ApiMethod>(method: M, args: unknown): Promise<ApiResult<ApiValue<M>>> {
    return (await this.request({ type: 'call', method, args })) as ApiResult<ApiValue<M>>;
  }

  subscribe(listener: (e: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async imagePath(photoId: number, kind: 'thumb' | 'preview'): Promise<string | null> {
    const r = await this.request({ type: 'image', photoId, kind });
    return typeof r === 'string' ? r : null;
  }

  async close(): Promise<void> {
    if (!this.dead) await this.request({ type: 'close' });
    await this.worker.terminate();
  }
}
