/** The visible error region: every failed call ends up here with its message; nothing is swallowed. */
import type { ApiError, ApiResult } from '../../../electron/core/api/contract.js';

export interface Alert {
  id: number;
  /** What the person was doing, e.g. "Could not move photos". */
  title: string;
  message: string;
  code: ApiError['code'];
}

const MAX_ALERTS = 5;

export class Alerts {
  items = $state.raw<Alert[]>([]);
  private nextId = 1;

  report(title: string, error: ApiError): void {
    const alert: Alert = { id: this.nextId++, title, message: error.message, code: error.code };
    this.items = [...this.items.filter((a) => a.title !== title || a.message !== error.message), alert].slice(-MAX_ALERTS);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((a) => a.id !== id);
  }

  /** The result's value, or undefined after reporting its error under `title`. */
  unwrap<T>(title: string, result: ApiResult<T>): T | undefined {
    if (result.ok) return result.value;
    this.report(title, result.error);
    return undefined;
  }
}
