import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from './api';
import { MeDoc, OpenCaseDoc } from '../graphql/ops';
import { ActionKey } from './idempotency';

class MemStorage {
  m = new Map<string, string>();
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
}

function jwt(expInSeconds: number): string {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${b64({ alg: 'HS256' })}.${b64({ exp: Math.floor(Date.now() / 1000) + expInSeconds })}.s`;
}

const user = { id: 'u1', email: 'c@x', displayName: 'C', role: 'CONCIERGE', active: true, institution: null };
const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
const unauth = () => json({ data: null, errors: [{ message: '認証が必要です', extensions: { code: 'UNAUTHENTICATED' } }] });

type Call = { query: string; variables: Record<string, unknown>; headers: Record<string, string> };

function fakeServer(handler: (c: Call, n: number) => Response) {
  const calls: Call[] = [];
  const fn = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
    const body = JSON.parse(String(init?.body));
    const c = { query: body.query, variables: body.variables, headers: init?.headers as Record<string, string> };
    calls.push(c);
    return handler(c, calls.length);
  });
  return { fn: fn as unknown as typeof fetch, calls };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ApiClient', () => {
  it('signs in: keeps the access token in memory, the refresh token in session storage, and sends Accept-Language', async () => {
    const storage = new MemStorage();
    const s = fakeServer((c) => {
      if (c.query.includes('login')) return json({ data: { login: { accessToken: jwt(900), refreshToken: 'r1', user } } });
      return json({ data: { me: user } });
    });
    const api = new ApiClient('/graphql', storage, s.fn);
    api.lang = 'en';
    await api.login('c@x', 'pw');
    expect(storage.getItem('dxdesk.refreshToken')).toBe('r1');
    await api.request(MeDoc, {});
    expect(s.calls[1].headers.Authorization).toMatch(/^Bearer /);
    expect(s.calls[1].headers['Accept-Language']).toBe('en');
    expect(s.calls[0].headers.Authorization).toBeUndefined();
  });

  it('sends one Idempotency-Key per action, the same one when a lost answer is retried', async () => {
    const storage = new MemStorage();
    let n = 0;
    const s = fakeServer(() => {
      n += 1;
      if (n === 1) throw new TypeError('connection reset');
      return json({ data: { openCase: { accessCode: 'A', case: { id: 'c1', reference: 'R' } } } });
    });
    const api = new ApiClient('/graphql', storage, s.fn);
    const action = new ActionKey();
    const vars = { input: { title: 'IoT' } } as never;
    const send = () => action.run(vars, (idempotencyKey) => api.request(OpenCaseDoc, vars, { idempotencyKey }));
    await expect(send()).rejects.toMatchObject({ code: 'NETWORK' });
    await send();
    await send();
    const keys = s.calls.map((c) => c.headers['Idempotency-Key']);
    expect(keys[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[0]);
    await api.request(MeDoc, {});
    expect(s.calls[3].headers['Idempotency-Key']).toBeUndefined();
  });

  it('on UNAUTHENTICATED refreshes once and retries', async () => {
    const storage = new MemStorage();
    storage.setItem('dxdesk.refreshToken', 'old');
    const s = fakeServer((c, n) => {
      if (c.query.includes('refreshSession')) return json({ data: { refreshSession: { accessToken: jwt(900), refreshToken: 'new', user } } });
      return n === 1 ? unauth() : json({ data: { me: user } });
    });
    const api = new ApiClient('/graphql', storage, s.fn);
    const d = await api.request(MeDoc, {});
    expect(d.me.id).toBe('u1');
    expect(s.calls.map((c) => (c.query.includes('refreshSession') ? 'refresh' : 'me'))).toEqual(['me', 'refresh', 'me']);
    expect(storage.getItem('dxdesk.refreshToken')).toBe('new');
  });

  it('ends the session when the refresh is refused (e.g. a deactivated user)', async () => {
    const storage = new MemStorage();
    storage.setItem('dxdesk.refreshToken', 'old');
    const s = fakeServer((c) =>
      c.query.includes('refreshSession') ? json({ data: null, errors: [{ message: 'x', extensions: { code: 'UNAUTHENTICATED' } }] }) : unauth(),
    );
    const api = new ApiClient('/graphql', storage, s.fn);
    const ended: (string | undefined)[] = [];
    api.onSession((u, reason) => {
      if (!u) ended.push(reason);
    });
    await expect(api.request(MeDoc, {})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(storage.getItem('dxdesk.refreshToken')).toBeNull();
    expect(ended).toEqual(['expired']);
    expect(s.calls).toHaveLength(2); // no loop
  });

  it('refreshes quietly a minute before the access token expires', async () => {
    vi.useFakeTimers();
    const storage = new MemStorage();
    let refreshes = 0;
    const s = fakeServer((c) => {
      if (c.query.includes('refreshSession')) {
        refreshes++;
        return json({ data: { refreshSession: { accessToken: jwt(900), refreshToken: `r${refreshes + 1}`, user } } });
      }
      return json({ data: { login: { accessToken: jwt(900), refreshToken: 'r1', user } } });
    });
    const api = new ApiClient('/graphql', storage, s.fn);
    await api.login('c@x', 'pw');
    await vi.advanceTimersByTimeAsync(13 * 60_000);
    expect(refreshes).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000 + 1_000);
    expect(refreshes).toBe(1);
    expect(storage.getItem('dxdesk.refreshToken')).toBe('r2');
    await api.logout();
  });

  it('logout calls the API with the refresh token and forgets it', async () => {
    const storage = new MemStorage();
    storage.setItem('dxdesk.refreshToken', 'r9');
    const s = fakeServer(() => json({ data: { logout: true } }));
    const api = new ApiClient('/graphql', storage, s.fn);
    await api.logout();
    expect(s.calls[0].query).toContain('logout');
    expect(s.calls[0].variables).toEqual({ refreshToken: 'r9' });
    expect(storage.getItem('dxdesk.refreshToken')).toBeNull();
  });

  it('a network failure is a NETWORK error in the UI language', async () => {
    const api = new ApiClient('/graphql', new MemStorage(), (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch);
    await expect(api.request(MeDoc, {})).rejects.toMatchObject({ code: 'NETWORK', message: 'サーバーに接続できません。ネットワークを確認してください。' });
  });
});
