/**
 * The Electron shell end to end, through Playwright's Electron driver. Runs only where the Electron binary is
 * installed (it cannot be downloaded in every environment).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';
import type { ApiResult, LibraryStatus, ShoeboxApi } from '../../electron/core/api/contract.js';
import { REPO, ensureRendererBuilt, generatePhotos, saveArtifact } from '../../bench/fixtures/browser.js';

/**
 * Path of the Electron binary, or why there is none. This is what `require('electron')` resolves to, looked up
 * without requiring it: the package's index.js tries to download a missing binary, which must not happen here.
 */
function electronBinary(): { path: string } | { reason: string } {
  let packageDir: string;
  try {
    packageDir = path.dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  } catch {
    return { reason: 'the electron package is not installed' };
  }
  const pathFile = path.join(packageDir, 'path.txt');
  if (!existsSync(pathFile)) return { reason: `${pathFile} is missing (the binary was never downloaded)` };
  const executable = readFileSync(pathFile, 'utf8').trim();
  const dist = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? path.join(packageDir, 'dist');
  const binary = path.join(dist, executable);
  return existsSync(binary) ? { path: binary } : { reason: `${binary} does not exist` };
}

const binary = electronBinary();
const skip = 'reason' in binary ? `Electron binary not installed: ${binary.reason}` : false;

describe('electron shell', { skip, timeout: 240_000 }, () => {
  let dir: string;
  let app: ElectronApplication;
  let page: Page;

  before(async () => {
    if (!('path' in binary)) return;
    dir = await mkdtemp(path.join(tmpdir(), 'shoebox-electron-'));
    await Promise.all([ensureRendererBuilt(), generatePhotos(path.join(dir, 'photos'), 10)]);
    app = await _electron.launch({
      executablePath: binary.path,
      // Root (CI containers) cannot use Chromium's setuid sandbox; the renderer sandbox stays on regardless.
      args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), path.join(REPO, 'dist', 'electron', 'shell', 'main.js')],
      env: { ...process.env, SHOEBOX_LIBRARY: path.join(dir, 'library'), SHOEBOX_ROOTS: path.join(dir, 'photos') },
    });
    page = await app.firstWindow();
  });

  after(async () => {
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('opens the app in a sandboxed, isolated window', async () => {
    await page.waitForLoadState('domcontentloaded');
    assert.equal(await page.title(), 'Shoebox');
    assert.match(page.url(), /^app:\/\/shoebox\//);
    assert.equal(await page.evaluate(() => 1 + 1), 2, 'the renderer is alive');
    const globals = await page.evaluate(() => ({
      require: typeof (globalThis as Record<string, unknown>).require,
      process: typeof (globalThis as Record<string, unknown>).process,
    }));
    assert.deepEqual(globals, { require: 'undefined', process: 'undefined' });
    const crashed = await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0].webContents.isCrashed());
    assert.equal(crashed, false);
  });

  it('exposes exactly the ShoeboxApi and round-trips a call through IPC', async () => {
    const shape = await page.evaluate(() => {
      const api = (globalThis as unknown as { shoebox: ShoeboxApi }).shoebox;
      return { keys: Object.keys(api).sort(), transport: api.transport, url: api.imageUrl(3, 'thumb') };
    });
    assert.deepEqual(shape, { keys: ['call', 'imageUrl', 'subscribe', 'transport'], transport: 'electron', url: 'shoebox-img://thumb/3' });
    const status = await page.evaluate(() => (globalThis as unknown as { shoebox: ShoeboxApi }).shoebox.call('getStatus', {}));
    assert.ok(status.ok, JSON.stringify(status));
    assert.equal((status as { ok: true; value: LibraryStatus }).value.roots.length, 1);
    const unknown = await page.evaluate(() =>
      (globalThis as unknown as { shoebox: { call(m: string, a: unknown): Promise<ApiResult<unknown>> } }).shoebox.call('dropTables', {}),
    );
    assert.equal(unknown.ok ? null : unknown.error.code, 'NOT_FOUND');
  });

  it('loads thumbnails through the shoebox-img protocol', async () => {
    const thumb = page.locator('img[src^="shoebox-img://thumb/"]').first();
    await thumb.waitFor({ timeout: 180_000 });
    const decoded = () => thumb.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth > 0);
    const deadline = Date.now() + 20_000;
    while (!(await decoded())) {
      assert.ok(Date.now() < deadline, 'the thumbnail decodes');
      await page.waitForTimeout(100);
    }
    await saveArtifact('electron-main.png', await page.screenshot());
  });

  it('refuses navigation away from the app and new windows', async () => {
    const before = page.url();
    await page.evaluate(() => {
      (globalThis as unknown as { open(url: string): unknown }).open('https://example.com/');
      (globalThis as unknown as { location: { href: string } }).location.href = 'https://example.com/';
    });
    await page.waitForTimeout(500);
    assert.equal(page.url(), before);
    assert.equal(app.windows().length, 1);
  });
});
