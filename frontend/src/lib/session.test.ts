import { describe, expect, it } from 'vitest';
import { DEFAULT_TOKEN_LIFETIME_MS, jwtExpiry, MIN_REFRESH_DELAY_MS, refreshDelay, REFRESH_LEAD_MS } from './session';

function jwt(payload: object): string {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}.sig`;
}

describe('token refresh scheduling', () => {
  const now = Date.UTC(2026, 3, 1, 0, 0, 0);
  it('reads exp from a JWT', () => {
    expect(jwtExpiry(jwt({ sub: 'u', exp: 1_900_000_000 }))).toBe(1_900_000_000);
    expect(jwtExpiry('not-a-jwt')).toBeNull();
    expect(jwtExpiry('a.!!!.c')).toBeNull();
  });
  it('refreshes one minute before a 15-minute token expires', () => {
    const token = jwt({ exp: Math.floor(now / 1000) + 15 * 60 });
    expect(refreshDelay(token, now)).toBe(15 * 60_000 - REFRESH_LEAD_MS);
  });
  it('never waits less than a few seconds (an almost expired token)', () => {
    const token = jwt({ exp: Math.floor(now / 1000) + 10 });
    expect(refreshDelay(token, now)).toBe(MIN_REFRESH_DELAY_MS);
  });
  it('without a readable exp, assumes the 15-minute lifetime from issue', () => {
    expect(refreshDelay('opaque', now, now)).toBe(DEFAULT_TOKEN_LIFETIME_MS - REFRESH_LEAD_MS);
  });
});
