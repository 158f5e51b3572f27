/** The Electron shell's logic that does not need Electron: protocol URLs, the IPC bridge, taskbar progress. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ApiEvent, ApiResult, JobInfo, PhotoDetails } from '../../../electron/core/api/contract.js';
import type { CoreHandle } from '../../../electron/transport/core-handle.js';
import { Bridge } from '../../../electron/shell/bridge.js';
import { TaskbarProgress } from '../../../electron/shell/progress.js';
import { appFile, imageRequest, isAppUrl, servedAppFile } from '../../../electron/shell/protocol.js';
import { openStaticRoot } from '../../../electron/transport/static-files.js';
import { refuseNavigation, windowPreferences } from '../../../electron/shell/window.js';
import { readFile } from 'node:fs/promises';
import { REPO } from '../../helpers/repo.js';

describe('app:// URLs', () => {
  const root = path.resolve('/opt/shoebox/renderer');

  it('map to files inside the renderer directory', () => {
    assert.equal(appFile('app://shoebox/', root), path.join(root, 'index.html'));
    assert.equal(appFile('app://shoebox/index.html', root), path.join(root, 'index.html'));
    assert.equal(appFile('app://shoebox/assets/index-abc.js?v=1#x', root), path.join(root, 'assets', 'index-abc.js'));
  });

  it('never leave it, however the path is spelled', () => {
    assert.equal(appFile('app://shoebox/..%2f..%2fetc%2fpasswd', root), null);
    assert.equal(appFile('app://shoebox//etc/passwd', root), null);
    assert.equal(appFile('app://evil/index.html', root), null);
    for (const url of [
      'app://shoebox/../../etc/passwd',
      'app://shoebox/%2e%2e/%2e%2e/etc/passwd',
      'app://shoebox/..%2f..%2fetc%2fpasswd',
      'app://shoebox/assets/..%5c..%5csecret',
      'app://shoebox//etc/passwd',
      'app://shoebox/C:%5cWindows',
      'app://shoebox/a%00b',
      'app://evil/index.html',
      'file:///etc/passwd',
      'not a url',
    ]) {
      // The URL parser already folds literal and %2e dot-segments ("/../etc" -> "/etc"); either way the result
      // must be null or inside the root.
      const file = appFile(url, root);
      assert.ok(file === null || file.startsWith(root + path.sep), `${url} -> ${file}`);
    }
  });

  it('are served only from real files inside the renderer folder: a symlink out of it is refused', async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'shoebox-app-'));
    try {
      const dir = path.join(base, 'renderer');
      await mkdir(path.join(dir, 'assets'), { recursive: true });
      await writeFile(path.join(dir, 'index.html'), '<!doctype html>');
      await writeFile(path.join(base, 'secret.txt'), 'secret');
      await symlink(path.join(base, 'secret.txt'), path.join(dir, 'assets', 'leak.txt'));
      await symlink(path.join(dir, 'index.html'), path.join(dir, 'assets', 'home.html'));
      const root = await openStaticRoot(dir);
      assert.equal(await servedAppFile('app://shoebox/', root), path.join(root.dir, 'index.html'));
      assert.equal(await servedAppFile('app://shoebox/assets/home.html', root), path.join(root.dir, 'index.html'), 'a link that stays inside is fine');
      assert.equal(appFile('app://shoebox/assets/leak.txt', dir), path.join(dir, 'assets', 'leak.txt'), 'the path alone looks inside');
      assert.equal(await servedAppFile('app://shoebox/assets/leak.txt', root), null, 'but it leads out');
      assert.equal(await servedAppFile('app://shoebox/assets', root), null, 'folders are not served');
      assert.equal(await servedAppFile('app://evil/index.html', root), null);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it('are the only navigation targets allowed', () => {
    assert.ok(isAppUrl('app://shoebox/index.html'));
    assert.ok(!isAppUrl('https://example.com/'));
    assert.ok(!isAppUrl('app://other/index.html'));
    assert.ok(!isAppUrl('file:///etc/passwd'));
  });
});

describe('desktop hardening', () => {
  it('the window: isolated, sandboxed, no Node, no webviews; DevTools only outside a packaged build', () => {
    const packaged = windowPreferences('/app/preload.cjs', true);
    assert.equal(packaged.devTools, false);
    assert.equal(windowPreferences('/app/preload.cjs', false).devTools, true);
    assert.deepEqual(
      { ...packaged, preload: undefined, devTools: undefined },
      {
        preload: undefined,
        devTools: undefined,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        webviewTag: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        navigateOnDragDrop: false,
        spellcheck: false,
      },
    );
  });

  it('navigations of any frame and redirects leave the app never', () => {
    assert.equal(refuseNavigation('app://shoebox/index.html'), false);
    for (const url of ['https://example.com/', 'file:///etc/passwd', 'app://other/', 'javascript:alert(1)', 'data:text/html,x']) assert.equal(refuseNavigation(url), true, url);
  });

  it('the packaged binary has its fuses flipped: no RunAsNode, NODE_OPTIONS or --inspect; asar only, integrity checked', async () => {
    const yml = await readFile(path.join(REPO, 'electron-builder.yml'), 'utf8');
    const block = /^electronFuses:\n((?: {2}.+\n)+)/m.exec(yml)?.[1] ?? '';
    const fuses = Object.fromEntries(block.trim().split('\n').map((l) => l.trim().split(/:\s*/) as [string, string]));
    assert.deepEqual(
      { ...fuses },
      {
        runAsNode: 'false',
        enableNodeOptionsEnvironmentVariable: 'false',
        enableNodeCliInspectArguments: 'false',
        onlyLoadAppFromAsar: 'true',
        enableEmbeddedAsarIntegrityValidation: 'true',
        enableCookieEncryption: 'true',
        grantFileProtocolExtraPrivileges: 'false',
      },
    );
    assert.match(yml, /^asar: true$/m);
  });
});

describe('shoebox-img:// URLs', () => {
  it('accept a kind and a positive integer id only', () => {
    assert.deepEqual(imageRequest('shoebox-img://thumb/42'), { kind: 'thumb', photoId: 42 });
    assert.deepEqual(imageRequest('shoebox-img://preview/7'), { kind: 'preview', photoId: 7 });
    for (const url of [
      'shoebox-img://thumb/0',
      'shoebox-img://thumb/-3',
      'shoebox-img://thumb/1.5',
      'shoebox-img://thumb/01',
      'shoebox-img://thumb/1e3',
      'shoebox-img://thumb/../../etc/passwd',
      'shoebox-img://thumb/%2e%2e%2fx',
      'shoebox-img://thumb/1/2',
      'shoebox-img://thumb/1?path=/etc/passwd',
      'shoebox-img://original/1',
      'shoebox-img:///etc/passwd',
      'app://thumb/1',
    ]) {
      assert.equal(imageRequest(url), null, url);
    }
  });
});

describe('IPC bridge', () => {
  let dir: string;
  let file: string;
  const shown: string[] = [];
  const calls: string[] = [];
  const photo = (relPath: string): PhotoDetails => ({
    id: 1,
    name: path.basename(relPath),
    relPath,
    rootPath: dir,
    size: 1,
    width: 1,
    height: 1,
    format: 'jpeg',
    takenAt: null,
    takenSource: null,
    place: null,
    objects: [],
    faces: [],
    albumName: null,
    timezone: null,
    camera: null,
    gps: null,
    orientation: null,
    albumId: null,
    pinned: false,
    status: 'ok',
    error: null,
    duplicates: [],
  });
  let relPath = 'a.jpg';
  const core: CoreHandle = {
    call(method, args) {
      calls.push(method);
      if (method === 'getPhoto') {
        const id = (args as { photoId: number }).photoId;
        const result: ApiResult<PhotoDetails> = id === 1 ? { ok: true, value: photo(relPath) } : { ok: false, error: { code: 'NOT_FOUND', message: 'No such photo' } };
        return Promise.resolve(result as never);
      }
      if (method === 'listAlbums') return Promise.resolve({ ok: true, value: [] } as never);
      return Promise.reject(new Error('core exploded'));
    },
    subscribe: () => () => undefined,
    imagePath: () => Promise.resolve(null),
    close: () => Promise.resolve(),
  };
  const bridge = new Bridge(core, { showItemInFolder: (f) => shown.push(f) });
  const APP = 'app://shoebox/index.html';

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shoebox-shell-'));
    file = path.join(dir, 'a.jpg');
    await writeFile(file, 'x');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('forwards calls from our own pages to the core', async () => {
    assert.deepEqual(await bridge.call(APP, 'listAlbums', {}), { ok: true, value: [] });
    assert.equal(calls.at(-1), 'listAlbums');
  });

  it('refuses other senders and unknown methods without reaching the core', async () => {
    const before = calls.length;
    const foreign = await bridge.call('https://evil.example/', 'listAlbums', {});
    assert.equal(foreign.ok ? null : foreign.error.code, 'FORBIDDEN');
    assert.equal((await bridge.call(undefined, 'listAlbums', {})).ok, false);
    for (const method of ['dropTables', 'toString', '__proto__', 42, null]) {
      const result = await bridge.call(APP, method, {});
      assert.equal(result.ok ? null : result.error.code, 'NOT_FOUND', String(method));
    }
    assert.equal(calls.length, before);
  });

  it('turns a throwing core into an ApiResult error', async () => {
    const result = await bridge.call(APP, 'organize', {});
    assert.deepEqual(result, { ok: false, error: { code: 'INTERNAL', message: 'core exploded' } });
  });

  it('shows a photo in its folder via the path the core reports', async () => {
    assert.deepEqual(await bridge.call(APP, 'showInFolder', { photoId: 1 }), { ok: true, value: { shown: true } });
    assert.deepEqual(shown, [file]);
    const missing = await bridge.call(APP, 'showInFolder', { photoId: 2 });
    assert.equal(missing.ok ? null : missing.error.code, 'NOT_FOUND');
    const invalid = await bridge.call(APP, 'showInFolder', { photoId: '1' });
    assert.equal(invalid.ok ? null : invalid.error.code, 'INVALID_INPUT');
    relPath = '../../etc/passwd';
    const escaping = await bridge.call(APP, 'showInFolder', { photoId: 1 });
    assert.equal(escaping.ok ? null : escaping.error.code, 'INVALID_INPUT');
    relPath = 'gone.jpg';
    const gone = await bridge.call(APP, 'showInFolder', { photoId: 1 });
    assert.equal(gone.ok ? null : gone.error.code, 'NOT_FOUND');
    assert.equal(shown.length, 1);
  });
});

describe('taskbar progress', () => {
  const job = (id: string, done: number, total: number, state: JobInfo['state'] = 'running'): JobInfo => ({
    id,
    kind: 'organize',
    state,
    stage: 'scan',
    done,
    total,
    rate: 0,
    etaSec: null,
    message: '',
    startedAt: 0,
    finishedAt: null,
  });
  const progress = (j: JobInfo): ApiEvent => ({ type: 'job-progress', job: j });

  it('follows running jobs and clears when they finish', () => {
    const bar = new TaskbarProgress();
    assert.equal(bar.value(), -1);
    assert.equal(bar.apply(progress(job('a', 0, 0))), 2, 'indeterminate without a total');
    assert.equal(bar.apply(progress(job('a', 25, 100))), 0.25);
    assert.equal(bar.apply(progress(job('a', 25, 100))), null, 'unchanged values are not re-sent');
    assert.equal(bar.apply(progress(job('b', 75, 100))), 0.5, 'jobs are combined');
    assert.equal(bar.apply({ type: 'job-finished', job: job('a', 100, 100, 'done') }), 0.75);
    assert.equal(bar.apply({ type: 'library-changed', what: ['albums'] }), null);
    assert.equal(bar.apply(progress(job('b', 100, 100, 'done'))), -1, 'a final state in a progress event ends it too');
  });
});
