/**
 * The main window's web preferences and the navigation rules for every web contents, free of Electron so they can
 * be tested in plain Node (main.ts applies them).
 */
import { isAppUrl } from './protocol.js';

export interface WindowPreferences {
  preload: string;
  contextIsolation: true;
  sandbox: true;
  nodeIntegration: false;
  nodeIntegrationInWorker: false;
  webviewTag: false;
  webSecurity: true;
  allowRunningInsecureContent: false;
  navigateOnDragDrop: false;
  spellcheck: false;
  /** DevTools only in a development run, never in a packaged build. */
  devTools: boolean;
}

export function windowPreferences(preload: string, packaged: boolean): WindowPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    webviewTag: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    devTools: !packaged,
  };
}

/** Whether a navigation (of the top frame or any subframe) or a redirect to `url` must be prevented. */
export function refuseNavigation(url: string): boolean {
  return !isAppUrl(url);
}
