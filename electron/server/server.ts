/**
 * Browser mode: serves the built renderer and the typed API over loopback HTTP + WebSocket.
 *
 *   GET  /, /assets/...            static files of the built renderer (no listing, no traversal)
 *   POST /api/<method>             JSON args -> ApiResult JSON
 *   GET  /img/<thumb|preview>/<id> cached images, resolved only through core.imagePath
 *   WS   /events                   ApiEvent JSON pushed to every connected page
 *
 * Every request must pass the Host/Origin policy and carry the launch token (see security.ts).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ApiError, ApiEvent, ApiResult, ErrorCode } from '../core/api/contract.js';
import { isApiMethod } from '../core/api/validate.js';
import { isImageKind, parsePhotoId, type CoreHandle } from '../transport/core-handle.js';
import {
  authenticate,
  hostAllowed,
  newToken,
  originAllowed,
  securityHeaders,
  sessionCookie,
  type Policy,
} from './security.js';
import { mimeType, openStaticRoot, resolveStatic, type StaticRoot } from '../transport/static-files.js';

export interface ServerOptions {
  core: CoreHandle;
  /** 0 picks a free port. */
  port: number;
  /** Loopback only; 'localhost' is bound as 127.0.0.1. */
  host?: '127.0.0.1' | 'localhost';
  /** Directory of the built renderer (dist/renderer). */
  rendererDir: string;
  /** Fixed token (tests); by default a random 32-byte token per launch. */
  token?: string;
}

export interface RunningServer {
  /** URL to open, including the token: http://127.0.0.1:<port>/?token=... */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
const HEARTBEAT_MS = 30_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function failure(code: ErrorCode, message: string): ApiResult<never> {
  const error: ApiError = { code, message };
  return { ok: false, error };
}

/** Splits a request target without URL parsing, which would read `//host/x` as a host. */
function splitTarget(target: string): { pathname: string; query: URLSearchParams } | null {
  if (!target.startsWith('/')) return null;
  const q = target.indexOf('?');
  return q < 0
    ? { pathname: target, query: new URLSearchParams() }
    : { pathname: target.slice(0, q), query: new URLSearchParams(target.slice(q + 1)) };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'INVALID_INPUT', 'Request body too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'INVALID_INPUT', 'Request body too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { core } = options;
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== 'localhost') throw new Error(`Refusing to bind ${String(host)}: loopback only`);
  const root: StaticRoot = await openStaticRoot(options.rendererDir);
  const policy: Policy = { port: options.port, token: options.token ?? newToken() };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) sendJson(res, 500, failure('INTERNAL', message));
      else res.destroy();
    });
  });
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 4096 });

  function baseHeaders(): Record<string, string> {
    return securityHeaders(policy.port);
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...baseHeaders(),
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
      ...extra,
    });
    res.end(text);
  }

  function sendText(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, {
      ...baseHeaders(),
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
      ...extra,
    });
    res.end(text);
  }

  /** API routes answer in ApiResult shape even when refused, so the client can show the reason. */
  function refuse(res: ServerResponse, isApi: boolean, status: number, code: ErrorCode, message: string): void {
    if (isApi) sendJson(res, status, failure(code, message));
    else sendText(res, status, `${message}\n`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = splitTarget(req.url ?? '');
    if (target === null) return sendText(res, 400, 'Bad request target\n');
    const { pathname, query } = target;
    const isApi = pathname.startsWith('/api/');

    if (!hostAllowed(req, policy.port)) return refuse(res, isApi, 403, 'FORBIDDEN', 'Host not allowed');
    if (!originAllowed(req, policy.port)) return refuse(res, isApi, 403, 'FORBIDDEN', 'Cross-origin request refused');
    const credential = authenticate(req, query, policy);
    if (credential === null) {
      return refuse(res, isApi, 401, 'UNAUTHORIZED', 'Missing or wrong token: open the URL printed by `shoebox serve`');
    }

    if (isApi) return handleApi(req, res, pathname.slice('/api/'.length));
    if (pathname.startsWith('/img/')) return handleImage(req, res, pathname);
    if (pathname === '/events') return sendText(res, 426, 'WebSocket upgrade required\n', { Upgrade: 'websocket' });

    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Method not allowed\n', { Allow: 'GET, HEAD' });
    if (credential === 'query') {
      // Trade the token in the URL for a cookie and drop it from the address bar (history, screenshots).
      query.delete('token');
      const rest = query.toString();
      res.writeHead(303, {
        ...baseHeaders(),
        'Set-Cookie': sessionCookie(policy.port, policy.token),
        Location: rest === '' ? pathname : `${pathname}?${rest}`,
        'Cache-Control': 'no-store',
        'Content-Length': 0,
      });
      res.end();
      return;
    }
    return handleStatic(req, res, pathname);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    if (req.method !== 'POST') {
      return sendJson(res, 405, failure('INVALID_INPUT', 'API calls must be POST'), { Allow: 'POST' });
    }
    if (!isApiMethod(name)) return sendJson(res, 404, failure('NOT_FOUND', `Unknown API method: ${name}`));
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      return sendJson(res, 415, failure('INVALID_INPUT', 'Content-Type must be application/json'));
    }
    let args: unknown;
    try {
      const body = await readBody(req);
      args = body.trim() === '' ? {} : JSON.parse(body);
    } catch (err) {
      if (err instanceof HttpError) return sendJson(res, err.status, failure(err.code, err.message));
      return sendJson(res, 400, failure('INVALID_INPUT', 'Request body is not valid JSON'));
    }
    let result: ApiResult<unknown>;
    try {
      result = await core.call(name, args);
    } catch (err) {
      // The core promises never to throw; if it does anyway the client still gets an ApiResult.
      result = failure('INTERNAL', err instanceof Error ? err.message : String(err));
    }
    // Whatever the core answers is a delivered result (200); HTTP error statuses mean the transport refused.
    sendJson(res, 200, result);
  }

  async function handleImage(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Method not allowed\n', { Allow: 'GET, HEAD' });
    const match = /^\/img\/([a-z]+)\/([^/]+)$/.exec(pathname);
    const kind = match?.[1];
    const id = match ? parsePhotoId(match[2]) : null;
    if (kind === undefined || !isImageKind(kind) || id === null) return sendText(res, 404, 'Not found\n');
    const file = await core.imagePath(id, kind);
    if (file === null) return sendText(res, 404, 'Not found\n');
    let info;
    try {
      info = await stat(file);
    } catch {
      return sendText(res, 404, 'Not found\n');
    }
    if (!info.isFile()) return sendText(res, 404, 'Not found\n');
    const etag = `"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`;
    // Images of a photo id rarely change (a rescan of an edited original); a short max-age spares revalidation
    // requests while scrolling back and forth, the ETag keeps later checks cheap.
    const headers = { ...baseHeaders(), ETag: etag, 'Cache-Control': 'private, max-age=600' };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': mimeType(file), 'Content-Length': info.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await pipeline(createReadStream(file), res);
  }

  async function handleStatic(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const found = await resolveStatic(root, pathname);
    if (found === null) return sendText(res, 404, 'Not found\n');
    const immutable = pathname.startsWith('/assets/');
    res.writeHead(200, {
      ...baseHeaders(),
      'Content-Type': mimeType(found.file),
      'Content-Length': found.size,
      'Cache-Control': immutable ? 'private, max-age=31536000, immutable' : 'no-cache',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await pipeline(createReadStream(found.file), res);
  }

  function rejectUpgrade(socket: Duplex, status: number, reason: string): void {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const target = splitTarget(req.url ?? '');
    if (target?.pathname !== '/events') return rejectUpgrade(socket, 404, 'Not Found');
    if (!hostAllowed(req, policy.port) || !originAllowed(req, policy.port)) return rejectUpgrade(socket, 403, 'Forbidden');
    if (authenticate(req, target.query, policy) === null) return rejectUpgrade(socket, 401, 'Unauthorized');
    sockets.handleUpgrade(req, socket, head, (ws) => {
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      ws.on('error', () => ws.terminate());
    });
  });

  const alive = new WeakMap<WebSocket, boolean>();
  const heartbeat = setInterval(() => {
    for (const ws of sockets.clients) {
      if (alive.get(ws) !== true) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();

  const unsubscribe = core.subscribe((event: ApiEvent) => {
    const text = JSON.stringify(event);
    for (const ws of sockets.clients) {
      if (ws.readyState === ws.OPEN) ws.send(text);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  policy.port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${policy.port}/?token=${policy.token}`,
    port: policy.port,
    token: policy.token,
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        unsubscribe();
        for (const ws of sockets.clients) ws.close(1001, 'Server shutting down');
        await new Promise<void>((resolve) => sockets.close(() => resolve()));
        const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}
