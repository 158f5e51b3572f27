/**
 * Browser-mode transport: POST /api/<method> for calls, a reconnecting WebSocket on /events for events.
 * Authentication is the HttpOnly cookie the server set on first load, so nothing secret lives in this code.
 */
import type { ApiArgs, ApiEvent, ApiMethod, ApiResult, ApiValue, ShoeboxApi } from '../../../../electron/core/api/contract.js';
import { backoffDelay } from '../reconnect.js';

function unavailable(message: string): ApiResult<never> {
  return { ok: false, error: { code: 'UNAVAILABLE', message } };
}

function isApiResult(value: unknown): value is ApiResult<unknown> {
  if (typeof value !== 'object' || value === null || !('ok' in value)) return false;
  const v = value as { ok: unknown; error?: { code?: unknown; message?: unknown } };
  return v.ok === true ? 'value' in value : v.ok === false && typeof v.error?.code === 'string' && typeof v.error.message === 'string';
}

class EventSocket {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private everOpened = false;

  constructor(
    private readonly url: string,
    private readonly dispatch: (event: ApiEvent) => void,
  ) {}

  open(): void {
    if (this.socket !== null || this.timer !== null) return;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      // Events may have been missed while disconnected: tell every view to refetch.
      if (this.everOpened) this.dispatch({ type: 'library-changed', what: ['albums', 'photos', 'roots', 'settings'] });
      this.everOpened = true;
    };
    socket.onmessage = (message: MessageEvent<string>) => {
      try {
        this.dispatch(JSON.parse(message.data) as ApiEvent);
      } catch {
        // A malformed frame is not worth tearing the connection down for.
      }
    };
    socket.onclose = () => {
      this.socket = null;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.open();
      }, backoffDelay(this.attempt++));
    };
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close();
      this.socket = null;
    }
  }
}

export function createHttpApi(location: Pick<Location, 'host' | 'protocol'>): ShoeboxApi {
  const listeners = new Set<(event: ApiEvent) => void>();
  const wsScheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new EventSocket(`${wsScheme}//${location.host}/events`, (event) => {
    for (const listener of listeners) listener(event);
  });

  return {
    transport: 'http',

    async call<M extends ApiMethod>(method: M, args: ApiArgs<M>): Promise<ApiResult<ApiValue<M>>> {
      let response: Response;
      try {
        response = await fetch(`/api/${method}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(args),
          credentials: 'same-origin',
          cache: 'no-store',
        });
      } catch (err) {
        return unavailable(`Cannot reach Shoebox (${err instanceof Error ? err.message : String(err)}). Is \`shoebox serve\` still running?`);
      }
      let body: unknown;
      try {
        body = await response.json();
      } catch {
        return unavailable(`Shoebox answered ${response.status} ${response.statusText} without a result`);
      }
      if (!isApiResult(body)) return unavailable(`Shoebox answered ${response.status} with an unexpected body`);
      return body as ApiResult<ApiValue<M>>;
    },

    subscribe(listener) {
      listeners.add(listener);
      socket.open();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) socket.close();
      };
    },

    imageUrl(photoId, kind) {
      return `/img/${kind}/${photoId}`;
    },
  };
}
