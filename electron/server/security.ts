/**
 * Request authentication and origin policy for browser mode.
 *
 * Threat model: any web page the person visits can make their browser send requests to 127.0.0.1:<port>, and a
 * DNS-rebinding attacker can even make those requests same-origin with an attacker-controlled host name. Every
 * request therefore has to (1) name our loopback host in `Host`, (2) come from our own origin when the browser
 * says where it comes from, and (3) carry the random per-launch token, either in `?token=` (first page load), in the
 * HttpOnly SameSite=Strict cookie set from it, or as `Authorization: Bearer` (scripts, tests).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_BYTES = 32;

export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** Cookies are not isolated by port, so the name carries it: two instances on one machine must not collide. */
export function cookieName(port: number): string {
  return `shoebox_${port}`;
}

export function sessionCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}

export interface Policy {
  port: number;
  token: string;
}

/** The `Host` values that may address this server; anything else is a DNS-rebinding attempt or a mistake. */
export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

export function allowedOrigins(port: number): string[] {
  return allowedHosts(port).map((host) => `http://${host}`);
}

export function hostAllowed(req: IncomingMessage, port: number): boolean {
  const host = req.headers.host?.toLowerCase();
  return host !== undefined && allowedHosts(port).includes(host);
}

/**
 * Browsers attach `Origin` to every cross-origin request, to every POST and to WebSocket handshakes; when present
 * it must be ours. `Sec-Fetch-Site` (sent by all current browsers) catches cross-site GETs that carry no Origin.
 */
export function originAllowed(req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined && !allowedOrigins(port).includes(origin)) return false;
  const site = req.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}

function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) cookies.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return cookies;
}

export type Credential = 'query' | 'cookie' | 'bearer';

/** Which presented credential matched the token, or null when none did. */
export function authenticate(req: IncomingMessage, query: URLSearchParams, policy: Policy): Credential | null {
  const fromQuery = query.get('token');
  if (fromQuery !== null && tokensEqual(fromQuery, policy.token)) return 'query';
  const cookie = parseCookies(req.headers.cookie).get(cookieName(policy.port));
  if (cookie !== undefined && tokensEqual(cookie, policy.token)) return 'cookie';
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ') && tokensEqual(auth.slice('Bearer '.length), policy.token)) return 'bearer';
  return null;
}

/** Content-Security-Policy for every response: nothing but our own origin, no inline script or style. */
export function contentSecurityPolicy(port: number): string {
  const sockets = allowedHosts(port).map((host) => `ws://${host}`);
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    "font-src 'self'",
    `connect-src 'self' ${sockets.join(' ')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function securityHeaders(port: number): Record<string, string> {
  return {
    'Content-Security-Policy': contentSecurityPolicy(port),
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
  };
}
