/**
 * Electron main process: one sandboxed window on app://shoebox, the core in a worker thread, and the typed IPC
 * bridge between them. Nothing remote is ever loaded.
 *
 * Environment (tests, power users):
 *   SHOEBOX_LIBRARY      library location (default: <userData>/library), as for the CLI
 *   SHOEBOX_ROOTS        photo folders to add at start, separated by the platform's path delimiter
 */
import { app, BrowserWindow, dialog, ipcMain, net, protocol, session, shell, type WebContents } from 'electron';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ApiEvent } from '../core/api/contract.js';
import { openCore } from '../core/service.js';
import type { CoreHandle } from '../transport/core-handle.js';
import { mimeType, openStaticRoot, type StaticRoot } from '../transport/static-files.js';
import { Bridge, CALL_CHANNEL, EVENT_CHANNEL, PICK_FOLDER_CHANNEL } from './bridge.js';
import { APP_CSP, APP_ORIGIN, APP_SCHEME, IMAGE_SCHEME, imageRequest, servedAppFile } from './protocol.js';
import { refuseNavigation, windowPreferences } from './window.js';
import { NO_PROGRESS, TaskbarProgress } from './progress.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RENDERER_DIR = path.resolve(here, '../../renderer');
const PRELOAD = path.join(here, 'preload.cjs');

protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  { scheme: IMAGE_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

function notFound(): Response {
  return new Response('Not found', { status: 404, headers: { 'Content-Type': 'text/plain', ...SECURITY_HEADERS } });
}

async function serveFile(file: string, headers: Record<string, string>): Promise<Response> {
  const response = await net.fetch(pathToFileURL(file).toString());
  if (!response.ok) return notFound();
  return new Response(response.body, { status: 200, headers: { 'Content-Type': mimeType(file), ...SECURITY_HEADERS, ...headers } });
}

function registerProtocols(core: CoreHandle, renderer: StaticRoot): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const file = await servedAppFile(request.url, renderer);
    return file === null ? notFound() : serveFile(file, { 'Content-Security-Policy': APP_CSP });
  });
  protocol.handle(IMAGE_SCHEME, async (request) => {
    const wanted = imageRequest(request.url);
    const file = wanted && (await core.imagePath(wanted.photoId, wanted.kind));
    return file ? serveFile(file, { 'Cache-Control': 'private, no-cache' }) : notFound();
  });
}

/** Denies everything a page could ask for beyond our own content. */
function lockDown(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
  // No remote content: only app://, shoebox-img:// and in-page data/blob URLs ever load.
  ses.webRequest.onBeforeRequest({ urls: ['http://*/*', 'https://*/*', 'ws://*/*', 'wss://*/*', 'ftp://*/*'] }, (_details, callback) =>
    callback({ cancel: true }),
  );
  app.on('web-contents-created', (_event, contents: WebContents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    // Top-frame and subframe navigations and redirects alike stay inside the app.
    contents.on('will-navigate', (event, url) => refuseNavigation(url) && event.preventDefault());
    contents.on('will-frame-navigate', (event) => refuseNavigation(event.url) && event.preventDefault());
    contents.on('will-redirect', (event, url) => refuseNavigation(url) && event.preventDefault());
    if (app.isPackaged) contents.on('devtools-opened', () => contents.closeDevTools());
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 840,
    minWidth: 720,
    minHeight: 480,
    title: 'Shoebox',
    show: false,
    backgroundColor: '#171716',
    webPreferences: windowPreferences(PRELOAD, app.isPackaged),
  });
  win.once('ready-to-show', () => win.show());
  return win;
}

/** First run: ask for a photo folder, add it and start organizing (the UI shows the job). */
async function firstRun(core: CoreHandle, win: BrowserWindow): Promise<void> {
  const roots = await core.call('listRoots', {});
  if (!roots.ok || roots.value.length > 0) return;
  const choice = await dialog.showOpenDialog(win, {
    title: 'Choose a folder of photos',
    buttonLabel: 'Organize this folder',
    properties: ['openDirectory'],
  });
  const folder = choice.filePaths[0];
  if (choice.canceled || folder === undefined) return;
  const added = await core.call('addRoot', { path: folder });
  if (!added.ok) {
    dialog.showErrorBox('Could not add the folder', added.error.message);
    return;
  }
  await core.call('organize', {});
}

async function start(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  app.enableSandbox();
  await app.whenReady();
  lockDown();

  const libraryDir = process.env.SHOEBOX_LIBRARY ?? path.join(app.getPath('userData'), 'library');
  const roots = (process.env.SHOEBOX_ROOTS ?? '').split(path.delimiter).filter((r) => r !== '');
  const core = await openCore({ libraryDir, roots, inWorker: true, autoOrganize: roots.length > 0, command: 'Shoebox (desktop app)' });
  registerProtocols(core, await openStaticRoot(RENDERER_DIR));

  const bridge = new Bridge(core, { showItemInFolder: (file) => shell.showItemInFolder(file) });
  let win: BrowserWindow | null = null;
  ipcMain.handle(CALL_CHANNEL, (event, method: unknown, args: unknown) =>
    bridge.call(event.sender === win?.webContents ? event.senderFrame?.url : undefined, method, args),
  );

  // The export dialog's folder chooser: only for the app's own window.
  ipcMain.handle(PICK_FOLDER_CHANNEL, async (event) => {
    if (!win || event.sender !== win.webContents) return null;
    const choice = await dialog.showOpenDialog(win, { title: 'Export to folder', properties: ['openDirectory', 'createDirectory'] });
    return choice.canceled ? null : (choice.filePaths[0] ?? null);
  });

  const progress = new TaskbarProgress();
  core.subscribe((event: ApiEvent) => {
    if (!win || win.isDestroyed()) return;
    win.webContents.send(EVENT_CHANNEL, event);
    const value = progress.apply(event);
    if (value !== null) win.setProgressBar(value, { mode: value === NO_PROGRESS ? 'none' : 'normal' });
  });

  const open = async (): Promise<void> => {
    win = createWindow();
    win.on('closed', () => (win = null));
    await win.loadURL(`${APP_ORIGIN}/index.html`);
    await firstRun(core, win);
  };

  app.on('second-instance', () => {
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });
  app.on('activate', () => {
    if (win === null) void open();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  let closing = false;
  app.on('before-quit', (event) => {
    if (closing) return;
    closing = true;
    event.preventDefault();
    void core.close().finally(() => app.quit());
  });

  await open();
}

start().catch((err: unknown) => {
  dialog.showErrorBox('Shoebox could not start', err instanceof Error ? (err.stack ?? err.message) : String(err));
  app.exit(1);
});
