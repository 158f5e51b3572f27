import type { ShoeboxApi } from '../../../../electron/core/api/contract.js';
import { createHttpApi } from './http.js';

declare global {
  interface Window {
    /** Exposed by the Electron preload (contextBridge); absent in browser mode. */
    readonly shoebox?: ShoeboxApi;
  }
}

/** The Electron preload's API when present, else the browser-mode HTTP client for this origin. */
export function connectApi(): ShoeboxApi {
  return window.shoebox ?? createHttpApi(window.location);
}
