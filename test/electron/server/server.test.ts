import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import * as albums from '../../../electron/core/albums/store.js';
import type { ApiEvent, ApiResult } from '../../../electron/core/api/contract.js';
import type { CoreHandle } from '../../../electron/core/handle.js';
import { LibraryService } from '../../../electron/core/service.js';
import { startServer, type RunningServer } from '../../../electron/server/server.js';
import { jpeg } from '../../helpers/images.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const SECRET = 'top-secret-outside-the-renderer';

let dir: string;
/** The real core, on a library of 5 scanned photos in two albums ("Beach", "Forest"). */
let svc: LibraryService;
/** What the server was given: the core, recording every call. */
let core: CoreHandle & { calls: { method: string; args: unknown }[] };
let server: RunningServer;

function send(
  target: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; host?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: server.port,
        method: options.method ?? 'GET',
        path: target,
        setHost: false,
        headers: { Host: options.host ?? `127.0.0.1:${server.port}`, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const auth = () => ({ Authorization: `Bearer ${server.token}` });
const cookie = () => ({ Cookie: `shoebox_${server.port}=${server.token}` });

function api(method: string, args: unknown, headers: Record<string, string> = auth()): Promise<Reply> {
  return send(`/api/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(args),
  });
}

function parse(reply: Reply): ApiResult<unknown> {
  return JSON.parse(reply.body) as ApiResult<unknown>;
}

function errorCode(reply: Reply): string | undefined {
  const result = parse(reply);
  return result.ok ? undefined : result.error.code;
}

function connect(headers: Record<string, string>, query = ''): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/events${query}`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'shoebox-server-'));
  const rendererDir = path.join(dir, 'renderer');
  await mkdir(path.join(rendererDir, 'assets'), { recursive: true });
  await writeFile(path.join(rendererDir, 'index.html'), '<!doctype html><title>Shoebox</title>');
  await writeFile(path.join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
  await writeFile(path.join(rendererDir, 'assets', 'app.css'), 'body{}');
  await writeFile(path.join(dir, 'secret.txt'), SECRET);
  await symlink(path.join(dir, 'secret.txt'), path.join(rendererDir, 'assets', 'link.txt'));
  const photos = path.join(dir, 'photos');
  for (let i = 0; i < 5; i++) await jpeg(path.join(photos, `p${i}.jpg`), { seed: i + 1, width: 120, height: 90 });
  // The real service with stub embed and cluster stages: the transport needs photos and albums, not an encoder.
  svc = new LibraryService(path.join(dir, 'library'), {
    hooks: {
      stages: {
        embedBackbone: () => Promise.resolve({ device: null, embedded: 0, failed: 0 }),
        cluster: () => Promise.resolve({ albums: 0, unsorted: 0, chosenK: null, assigned: 0, keptEdits: 0 }),
      },
    },
  });
  svc.addRoot(photos);
  assert.equal((await svc.organize({ train: false }).done).state, 'done');
  albums.createAlbum(svc.db, 'Beach', [1, 2, 3]);
  albums.createAlbum(svc.db, 'Forest', [4, 5]);
  const calls: { method: string; args: unknown }[] = [];
  core = {
    calls,
    call: (method, args) => {
      calls.push({ method, args });
      return svc.call(method, args);
    },
    subscribe: (l) => svc.subscribe(l),
    imagePath: (id, kind) => svc.imagePath(id, kind),
    close: () => svc.close(),
  };
  server = await startServer({ core, port: 0, rendererDir });
});

after(async () => {
  await server.close();
  await core.close();
  await rm(dir, { recursive: true, force: true });
});

describe('token', () => {
  it('is 32 random bytes and part of the printed URL', () => {
    assert.equal(Buffer.from(server.token, 'base64url').length, 32);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/?token=${server.token}`);
  });

  it('is required for pages, API, images and events', async () => {
    assert.equal((await send('/')).status, 401);
    assert.equal((await send('/assets/app.js')).status, 401);
    const apiReply = await api('getStatus', {}, {});
    assert.equal(apiReply.status, 401);
    assert.equal(errorCode(apiReply), 'UNAUTHORIZED');
    assert.equal((await send('/img/thumb/1')).status, 401);
    await assert.rejects(connect({}), /401/);
  });

  it('rejects a wrong token in every place it is accepted', async () => {
    const wrong = 'x'.repeat(server.token.length);
    assert.equal((await send(`/?token=${wrong}`)).status, 401);
    assert.equal((await send('/', { headers: { Cookie: `shoebox_${server.port}=${wrong}` } })).status, 401);
    assert.equal((await api('getStatus', {}, { Authorization: `Bearer ${wrong}` })).status, 401);
    // A cookie for another instance (other port) is not ours.
    assert.equal((await send('/', { headers: { Cookie: `shoebox_1=${server.token}` } })).status, 401);
  });

  it('is traded for an HttpOnly SameSite=Strict cookie on first page load and removed from the URL', async () => {
    const first = await send(`/?token=${server.token}`);
    assert.equal(first.status, 303);
    assert.equal(first.headers.location, '/');
    const setCookie = first.headers['set-cookie']?.[0] ?? '';
    assert.match(setCookie, new RegExp(`^shoebox_${server.port}=${server.token};`));
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    const page = await send('/', { headers: cookie() });
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>Shoebox<\/title>/);
  });
});

describe('host and origin', () => {
  it('accepts 127.0.0.1 and localhost on our port only', async () => {
    assert.equal((await send('/', { headers: cookie(), host: `localhost:${server.port}` })).status, 200);
    for (const host of ['evil.example', `evil.example:${server.port}`, `127.0.0.1:${server.port + 1}`, '127.0.0.1', `[::1]:${server.port}`]) {
      const reply = await send('/', { headers: cookie(), host });
      assert.equal(reply.status, 403, host);
    }
    const apiReply = await send('/api/getStatus', {
      method: 'POST',
      host: `attacker.example:${server.port}`,
      headers: { ...auth(), 'Content-Type': 'application/json' },
      body: '{}',
    });
    assert.equal(apiReply.status, 403);
    assert.equal(errorCode(apiReply), 'FORBIDDEN');
  });

  it('rejects requests from other origins, even with a valid token', async () => {
    const reply = await api('listAlbums', {}, { ...auth(), Origin: 'http://evil.example' });
    assert.equal(reply.status, 403);
    assert.equal(errorCode(reply), 'FORBIDDEN');
    assert.equal((await api('listAlbums', {}, { ...auth(), Origin: 'null' })).status, 403);
    assert.equal((await send('/img/thumb/1', { headers: { ...cookie(), 'Sec-Fetch-Site': 'cross-site' } })).status, 403);
    assert.equal((await api('listAlbums', {}, { ...auth(), Origin: `http://127.0.0.1:${server.port}` })).status, 200);
    await assert.rejects(connect({ ...auth(), Origin: 'http://evil.example' }), /403/);
  });

  it('sends a strict CSP and no CORS headers', async () => {
    const reply = await send('/', { headers: { ...cookie(), Origin: `http://127.0.0.1:${server.port}` } });
    const csp = String(reply.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${server.port}`));
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(reply.headers['x-content-type-options'], 'nosniff');
    assert.equal(reply.headers['access-control-allow-origin'], undefined);
    const preflight = await send('/api/getStatus', { method: 'OPTIONS', headers: { Origin: 'http://evil.example' } });
    assert.equal(preflight.headers['access-control-allow-origin'], undefined);
    assert.notEqual(preflight.status, 200);
  });

  it('refuses to bind anything but loopback', async () => {
    await assert.rejects(
      startServer({ core, port: 0, rendererDir: dir, host: '0.0.0.0' as '127.0.0.1' }),
      /loopback only/,
    );
  });
});

describe('static files', () => {
  it('serves files with correct MIME types', async () => {
    const js = await send('/assets/app.js', { headers: cookie() });
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    const css = await send('/assets/app.css', { headers: cookie() });
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal((await send('/', { headers: cookie() })).headers['content-type'], 'text/html; charset=utf-8');
    const head = await send('/assets/app.js', { method: 'HEAD', headers: cookie() });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('never lists directories', async () => {
    for (const target of ['/assets', '/assets/', '/assets//']) {
      const reply = await send(target, { headers: cookie() });
      assert.equal(reply.status, 404, target);
      assert.doesNotMatch(reply.body, /app\.js/);
    }
  });

  it('makes path traversal impossible', async () => {
    const attempts = [
      '/../secret.txt',
      '/../../etc/passwd',
      '/..%2fsecret.txt',
      '/..%2f..%2fetc/passwd',
      '/..%2F..%2Fetc%2Fpasswd',
      '/%2e%2e/secret.txt',
      '/%2e%2e%2fsecret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/..%5c..%5csecret.txt',
      '/..\\secret.txt',
      '/%252e%252e/secret.txt',
      '//etc/passwd',
      `/${path.join(dir, 'secret.txt')}`,
      `/${encodeURIComponent(path.join(dir, 'secret.txt'))}`,
      '/C:/Windows/win.ini',
      '/C:%5cWindows%5cwin.ini',
      '/index.html%00.js',
      '/%c0%ae%c0%ae/secret.txt',
      '/assets/link.txt',
      'http://127.0.0.1/../secret.txt',
      '*',
    ];
    for (const target of attempts) {
      const reply = await send(target, { headers: cookie() });
      assert.ok(reply.status === 400 || reply.status === 404, `${target} -> ${reply.status}`);
      assert.doesNotMatch(reply.body, new RegExp(SECRET), target);
      assert.doesNotMatch(reply.body, /root:/, target);
    }
  });
});

describe('API', () => {
  it('answers with an ApiResult', async () => {
    const reply = await api('listAlbums', {});
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(reply.headers['cache-control'], 'no-store');
    const result = parse(reply);
    assert.ok(result.ok);
    assert.deepEqual(
      (result.value as { name: string }[]).map((a) => a.name),
      ['Beach', 'Forest', 'Unsorted'],
    );
    assert.deepEqual(core.calls.at(-1), { method: 'listAlbums', args: {} });
  });

  it('returns core errors as ApiResult errors', async () => {
    const notFound = await api('getAlbumPhotos', { albumId: 9999, offset: 0, limit: 10 });
    assert.equal(notFound.status, 200);
    assert.equal(errorCode(notFound), 'NOT_FOUND');
    const invalid = await api('getAlbumPhotos', { albumId: 'x', offset: 0, limit: 10 });
    assert.equal(errorCode(invalid), 'INVALID_INPUT');
  });

  it('returns transport errors as ApiResult errors with HTTP status', async () => {
    const unknown = await api('dropDatabase', {});
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), 'NOT_FOUND');
    const inherited = await api('constructor', {});
    assert.equal(inherited.status, 404);
    const badJson = await send('/api/listAlbums', { method: 'POST', headers: { ...auth(), 'Content-Type': 'application/json' }, body: '{nope' });
    assert.equal(badJson.status, 400);
    assert.equal(errorCode(badJson), 'INVALID_INPUT');
    const formPost = await send('/api/listAlbums', { method: 'POST', headers: { ...auth(), 'Content-Type': 'text/plain' }, body: '{}' });
    assert.equal(formPost.status, 415);
    assert.equal(errorCode(formPost), 'INVALID_INPUT');
    const get = await send('/api/listAlbums', { headers: auth() });
    assert.equal(get.status, 405);
    assert.equal(errorCode(get), 'INVALID_INPUT');
    const huge = await api('renameAlbum', { albumId: 2, name: 'x'.repeat(2 << 20) });
    assert.equal(huge.status, 413);
    assert.equal(errorCode(huge), 'INVALID_INPUT');
  });
});

describe('images', () => {
  it('serves cached images of known photos only', async () => {
    const thumb = await send('/img/thumb/1', { headers: cookie() });
    assert.equal(thumb.status, 200);
    assert.equal(thumb.headers['content-type'], 'image/jpeg');
    assert.ok(thumb.headers.etag);
    const again = await send('/img/thumb/1', { headers: { ...cookie(), 'If-None-Match': String(thumb.headers.etag) } });
    assert.equal(again.status, 304);
    assert.equal((await send('/img/preview/5', { headers: cookie() })).status, 200);
    assert.equal((await send('/img/thumb/6', { headers: cookie() })).status, 404);
  });

  it('rejects malformed ids and kinds', async () => {
    for (const target of ['/img/thumb/0', '/img/thumb/-1', '/img/thumb/1.5', '/img/thumb/01', '/img/thumb/1e3', '/img/thumb/..%2f1', '/img/original/1', '/img/thumb/1/x', '/img/thumb/99999999999999999999', '/img/..%2fthumb/1']) {
      assert.equal((await send(target, { headers: cookie() })).status, 404, target);
    }
  });
});

describe('events', () => {
  it('pushes core events to every authenticated socket', async () => {
    const viaCookie = await connect({ ...cookie(), Origin: `http://127.0.0.1:${server.port}` });
    const viaQuery = await connect({}, `?token=${server.token}`);
    const received = [viaCookie, viaQuery].map(
      (ws) => new Promise<ApiEvent>((resolve) => ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()) as ApiEvent))),
    );
    const event: ApiEvent = { type: 'library-changed', what: ['albums'] };
    svc.emit(event);
    assert.deepEqual(await Promise.all(received), [event, event]);
    viaCookie.close();
    viaQuery.close();
  });

  it('needs an upgrade and the right path', async () => {
    assert.equal((await send('/events', { headers: cookie() })).status, 426);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/other`, { headers: auth() });
        ws.once('open', resolve);
        ws.once('error', reject);
      }),
    );
  });
});
