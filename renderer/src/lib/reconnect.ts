/** Exponential backoff with jitter for the browser-mode event socket. */
export function backoffDelay(attempt: number, random: () => number = Math.random, baseMs = 250, maxMs = 10_000): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  // Full jitter in the upper half: spreads reconnects without ever retrying instantly.
  return Math.round(exp / 2 + (random() * exp) / 2);
}
