// The GraphQL client: same-origin fetch, access token in memory, refresh token in
// localStorage (shared by the browser's tabs, so a case opened in a new tab stays
// signed in), quiet refresh before expiry and once on UNAUTHENTICATED. Refresh
// tokens rotate and a reused one ends the session, so tabs refresh one at a time
// (a Web Lock) and each reads the newest token inside the lock; signing out in
// one tab signs out the others.
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
import { ApiError, networkError, toApiError, type GraphQLErrorLike } from './errors';
import type { Lang } from './i18n';
import { refreshDelay } from './session';
import { LoginDoc, LogoutDoc, RefreshDoc } from '../graphql/ops';
import type { UserFieldsFragment } from '../gql/graphql';

export type SessionUser = UserFieldsFragment;
export type EndReason = 'signedOut' | 'expired';

const REFRESH_KEY = 'dxdesk.refreshToken';

type Doc<R, V> = DocumentTypeDecoration<R, V> & { toString(): string };

interface Storage {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

interface GraphQLResponse<R> {
  data?: R | null;
  errors?: GraphQLErrorLike[];
}

export class ApiClient {
  lang: Lang = 'ja';
  private accessToken: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private refreshing: Promise<boolean> | null = null;
  private listeners = new Set<(user: SessionUser | null, reason?: EndReason) => void>();

  constructor(
    private readonly endpoint = '/graphql',
    private readonly storage: Storage = localStorage,
    private readonly fetchFn: typeof fetch = (...a) => fetch(...a),
  ) {
    if (typeof window !== 'undefined' && storage === globalThis.localStorage) {
      window.addEventListener('storage', (ev) => {
        if (ev.key === REFRESH_KEY && ev.newValue == null && this.lastUser) this.end('signedOut');
      });
    }
  }

  onSession(fn: (user: SessionUser | null, reason?: EndReason) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get hasRefreshToken(): boolean {
    return this.storage.getItem(REFRESH_KEY) != null;
  }

  /** The bearer token for downloads that are not GraphQL (report exports). */
  get bearer(): string | null {
    return this.accessToken;
  }

  private emit(user: SessionUser | null, reason?: EndReason) {
    this.lastUser = user;
    for (const fn of this.listeners) fn(user, reason);
  }

  private async post<R, V>(
    doc: Doc<R, V>,
    variables: V | undefined,
    withAuth: boolean,
    idempotencyKey?: string,
  ): Promise<GraphQLResponse<R>> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'Accept-Language': this.lang,
    };
    if (withAuth && this.accessToken) headers.Authorization = `Bearer ${this.accessToken}`;
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
    let res: Response;
    try {
      res = await this.fetchFn(this.endpoint, {
        method: 'POST',
        headers,
        credentials: 'same-origin',
        body: JSON.stringify({ query: doc.toString(), variables: variables ?? {} }),
      });
    } catch {
      throw networkError(this.lang);
    }
    let body: GraphQLResponse<R>;
    try {
      body = (await res.json()) as GraphQLResponse<R>;
    } catch {
      if (res.status === 429) throw toApiError([{ extensions: { code: 'RATE_LIMITED' } }], this.lang);
      throw toApiError([{}], this.lang);
    }
    return body;
  }

  /**
   * Run an operation; on UNAUTHENTICATED refresh the session and retry once.
   * `idempotencyKey` (see lib/idempotency.ts) makes a retried mutation safe.
   */
  async request<R, V>(
    doc: Doc<R, V>,
    variables?: V,
    opts: { anonymous?: boolean; idempotencyKey?: string } = {},
  ): Promise<R> {
    const withAuth = !opts.anonymous;
    const key = opts.idempotencyKey;
    let body = await this.post(doc, variables, withAuth, key);
    if (withAuth && body.errors?.length && toApiError(body.errors, this.lang).code === 'UNAUTHENTICATED') {
      const ok = await this.refresh();
      if (!ok) {
        this.end('expired');
        throw toApiError(body.errors, this.lang);
      }
      body = await this.post(doc, variables, withAuth, key);
      if (body.errors?.length && toApiError(body.errors, this.lang).code === 'UNAUTHENTICATED') {
        this.end('expired');
      }
    }
    if (body.errors?.length) throw toApiError(body.errors, this.lang);
    if (body.data == null) throw toApiError([{}], this.lang);
    return body.data;
  }

  async login(email: string, password: string): Promise<SessionUser> {
    const data = await this.request(LoginDoc, { email, password }, { anonymous: true });
    this.accept(data.login.accessToken, data.login.refreshToken);
    this.emit(data.login.user);
    return data.login.user;
  }

  /** On page load: resume the tab's session from its refresh token, if any. */
  async resume(): Promise<SessionUser | null> {
    if (!this.hasRefreshToken) return null;
    // one exchange even if asked twice (refresh tokens rotate: a second use of the old one would fail)
    const ok = await this.refresh();
    return ok ? this.lastUser : null;
  }

  private lastUser: SessionUser | null = null;

  /** Exchange the refresh token for a new pair; false when the session is gone. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.refreshWithUser()
        .then((u) => {
          if (u) this.emit(u);
          return u != null;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  private async refreshWithUser(): Promise<SessionUser | null> {
    const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
    if (!locks) return this.exchange();
    let user: SessionUser | null = null;
    await locks.request('dxdesk-refresh', async () => {
      user = await this.exchange();
    });
    return user;
  }

  private async exchange(): Promise<SessionUser | null> {
    const rt = this.storage.getItem(REFRESH_KEY);
    if (!rt) return null;
    let body: GraphQLResponse<{ refreshSession: { accessToken: string; refreshToken: string; user: SessionUser } }>;
    try {
      body = await this.post(RefreshDoc, { refreshToken: rt }, false);
    } catch (e) {
      // network trouble: keep the tokens, try again later
      if (e instanceof ApiError && e.code === 'NETWORK') throw e;
      return null;
    }
    if (body.errors?.length || !body.data) {
      this.clear();
      return null;
    }
    const p = body.data.refreshSession;
    this.accept(p.accessToken, p.refreshToken);
    return p.user;
  }

  async logout(): Promise<void> {
    const rt = this.storage.getItem(REFRESH_KEY);
    if (rt) {
      try {
        await this.post(LogoutDoc, { refreshToken: rt }, true);
      } catch {
        /* signing out locally anyway */
      }
    }
    this.end('signedOut');
  }

  private accept(accessToken: string, refreshToken: string) {
    this.accessToken = accessToken;
    this.storage.setItem(REFRESH_KEY, refreshToken);
    this.schedule(accessToken);
  }

  private schedule(accessToken: string) {
    if (this.timer) clearTimeout(this.timer);
    const delay = refreshDelay(accessToken, Date.now());
    this.timer = setTimeout(() => {
      this.refresh().then((ok) => {
        if (!ok) this.end('expired');
      }, () => this.schedule(accessToken));
    }, delay);
  }

  private clear() {
    this.accessToken = null;
    this.storage.removeItem(REFRESH_KEY);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private end(reason: EndReason) {
    this.clear();
    this.emit(null, reason);
  }
}
