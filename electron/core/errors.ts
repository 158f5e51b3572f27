import type { ApiError, ErrorCode } from './api/contract.js';

/** An error that is meant to cross the API boundary with a code and a human message. */
export class ShoeboxError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ShoeboxError';
  }
}

/** Per-file problems found while scanning or embedding; stored on the photo row. */
export type FileErrorCode =
  | 'EMPTY_FILE'
  | 'DECODE_FAILED'
  | 'TOO_LARGE'
  | 'UNREADABLE'
  | 'NOT_FOUND'
  | 'UNSUPPORTED'
  | 'NOT_A_FILE';

export class FileError extends Error {
  constructor(
    public readonly code: FileErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FileError';
  }
}

/** Map anything thrown to a serializable ApiError; internal details stay out of the message. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ShoeboxError) return { code: e.code, message: e.message };
  if (e instanceof FileError) return { code: 'INVALID_INPUT', message: e.message };
  if (e instanceof Error && e.name === 'AbortError') return { code: 'CANCELLED', message: 'Cancelled' };
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'INTERNAL', message: message || 'Internal error' };
}

/** Classify a Node fs error for a file path. */
export function fileErrorFromFs(e: unknown, what: string): FileError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new FileError('NOT_FOUND', `${what} vanished before it could be read`);
  if (code === 'EACCES' || code === 'EPERM') return new FileError('UNREADABLE', `${what} cannot be read (permission denied)`);
  if (code === 'EISDIR') return new FileError('NOT_A_FILE', `${what} is a directory`);
  const msg = e instanceof Error ? e.message : String(e);
  return new FileError('UNREADABLE', `${what} cannot be read: ${msg}`);
}

export function isAbort(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

export function abortError(): Error {
  const e = new Error('Cancelled');
  e.name = 'AbortError';
  return e;
}
