// Token lifetime maths, kept pure so that it can be unit-tested.

/** The `exp` claim (seconds since the epoch) of a JWT, or null when it cannot be read. */
export function jwtExpiry(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const json = JSON.parse(atob(padded)) as { exp?: unknown };
    return typeof json.exp === 'number' ? json.exp : null;
  } catch {
    return null;
  }
}

export const DEFAULT_TOKEN_LIFETIME_MS = 15 * 60_000;
export const REFRESH_LEAD_MS = 60_000;
export const MIN_REFRESH_DELAY_MS = 5_000;

/**
 * How long to wait before refreshing an access token quietly: one minute before it
 * expires (never less than a few seconds); when the expiry cannot be read, assume
 * the 15-minute lifetime counted from `issuedAt`.
 */
export function refreshDelay(token: string, nowMs: number, issuedAtMs: number = nowMs): number {
  const exp = jwtExpiry(token);
  const expiresAt = exp != null ? exp * 1000 : issuedAtMs + DEFAULT_TOKEN_LIFETIME_MS;
  return Math.max(MIN_REFRESH_DELAY_MS, expiresAt - REFRESH_LEAD_MS - nowMs);
}
