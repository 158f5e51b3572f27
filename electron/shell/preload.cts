/**
 * Preload (sandboxed, CommonJS): exposes exactly the ShoeboxApi contract as `window.shoebox`, nothing else.
 * The renderer never sees ipcRenderer or any Node API.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { ApiEvent, ShoeboxApi } from '../core/api/contract.js';

// Duplicated from bridge.ts/protocol.ts: a sandboxed preload can only require('electron').
const CALL_CHANNEL = 'shoebox:call';
const EVENT_CHANNEL = 'shoebox:event';
const PICK_FOLDER_CHANNEL = 'shoebox:pick-folder';
const IMAGE_SCHEME = 'shoebox-img';

const listeners = new Set<(event: ApiEvent) => void>();

ipcRenderer.on(EVENT_CHANNEL, (_event: IpcRendererEvent, payload: ApiEvent) => {
  for (const listener of listeners) listener(payload);
});

const api: ShoeboxApi = {
  transport: 'electron',
  call: (method, args) => ipcRenderer.invoke(CALL_CHANNEL, method, args),
  subscribe(listener) {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  },
  imageUrl: (photoId, kind) => `${IMAGE_SCHEME}://${kind}/${photoId}`,
  pickFolder: () => ipcRenderer.invoke(PICK_FOLDER_CHANNEL) as Promise<string | null>,
};

contextBridge.exposeInMainWorld('shoebox', api);
