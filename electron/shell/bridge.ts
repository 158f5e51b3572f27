/**
 * The main-process side of the IPC contract: validates what the renderer sends, forwards it to the core, and
 * implements the one method only the shell can (showInFolder). Free of Electron for testing; main.ts wires it.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { ApiResult, ErrorCode } from '../core/api/contract.js';
import { isApiMethod } from '../core/api/validate.js';
import type { CoreHandle } from '../transport/core-handle.js';
import { isAppUrl } from './protocol.js';

export const CALL_CHANNEL = 'shoebox:call';
export const PICK_FOLDER_CHANNEL = 'shoebox:pick-folder';
export const EVENT_CHANNEL = 'shoebox:event';

export interface BridgeHost {
  /** Reveals a file in the system file manager (shell.showItemInFolder). */
  showItemInFolder(file: string): void;
}

function failure(code: ErrorCode, message: string): ApiResult<never> {
  return { ok: false, error: { code, message } };
}

export class Bridge {
  constructor(
    private readonly core: CoreHandle,
    private readonly host: BridgeHost,
  ) {}

  /**
   * Handles one `shoebox:call`. `senderUrl` is the URL of the frame that sent it: only our own app:// pages may
   * call. Never throws; every failure is an ApiResult error.
   */
  async call(senderUrl: string | undefined, method: unknown, args: unknown): Promise<ApiResult<unknown>> {
    if (senderUrl === undefined || !isAppUrl(senderUrl)) return failure('FORBIDDEN', 'Calls are only accepted from the Shoebox window');
    if (!isApiMethod(method)) return failure('NOT_FOUND', `Unknown API method: ${String(method)}`);
    try {
      if (method === 'showInFolder') return await this.showInFolder(args);
      return await this.core.call(method, args);
    } catch (err) {
      return failure('INTERNAL', err instanceof Error ? err.message : String(err));
    }
  }

  /** Resolves the photo's original file through the core (rootPath + relPath) and reveals it. */
  private async showInFolder(args: unknown): Promise<ApiResult<{ shown: boolean }>> {
    const photoId = (args as { photoId?: unknown } | null)?.photoId;
    if (typeof photoId !== 'number' || !Number.isSafeInteger(photoId) || photoId < 1) {
      return failure('INVALID_INPUT', 'photoId must be a positive integer');
    }
    const details = await this.core.call('getPhoto', { photoId });
    if (!details.ok) return details;
    const root = path.resolve(details.value.rootPath);
    const file = path.resolve(root, details.value.relPath);
    const rel = path.relative(root, file);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return failure('INVALID_INPUT', 'Photo path lies outside its folder');
    try {
      await access(file);
    } catch {
      return failure('NOT_FOUND', `The file is no longer there: ${file}`);
    }
    this.host.showItemInFolder(file);
    return { ok: true, value: { shown: true } };
  }
}
