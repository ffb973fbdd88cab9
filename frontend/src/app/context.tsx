// App-wide state: UI language, the API client and the signed-in user.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiClient, type EndReason, type SessionUser } from '../lib/api';
import { enumLabel, initialLang, LANG_STORAGE_KEY, translate, type Lang, type MsgKey } from '../lib/i18n';
import type { EnumName } from '../lib/labels';

export interface AppState {
  lang: Lang;
  setLang: (l: Lang) => void;
  t: (key: MsgKey, params?: Record<string, string | number>) => string;
  e: (enumName: EnumName, value: string | null | undefined) => string;
  client: ApiClient;
  user: SessionUser | null;
  /** true until the tab's session has been resumed (or found absent) */
  resuming: boolean;
  endReason: EndReason | null;
}

const Ctx = createContext<AppState | null>(null);

export function useApp(): AppState {
  const v = useContext(Ctx);
  if (!v) throw new Error('useApp outside AppProvider');
  return v;
}

function storedLang(): string | null {
  try {
    return localStorage.getItem(LANG_STORAGE_KEY);
  } catch {
    return null;
  }
}

export function AppProvider({ children, client: given }: { children: ReactNode; client?: ApiClient }) {
  const [lang, setLangState] = useState<Lang>(() => initialLang(storedLang()));
  const client = useMemo(() => given ?? new ApiClient(), [given]);
  const [user, setUser] = useState<SessionUser | null>(null);
  const [resuming, setResuming] = useState(() => client.hasRefreshToken);
  const [endReason, setEndReason] = useState<EndReason | null>(null);
  client.lang = lang;

  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  useEffect(() => {
    const off = client.onSession((u, reason) => {
      setUser(u);
      setEndReason(u ? null : (reason ?? null));
    });
    if (client.hasRefreshToken) {
      client
        .resume()
        .catch(() => null)
        .finally(() => setResuming(false));
    }
    return () => {
      off();
    };
  }, [client]);

  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try {
      localStorage.setItem(LANG_STORAGE_KEY, l);
    } catch {
      /* private mode: the choice lasts this page only */
    }
  }, []);

  const value = useMemo<AppState>(
    () => ({
      lang,
      setLang,
      t: (k, p) => translate(lang, k, p),
      e: (n, v) => enumLabel(lang, n, v),
      client,
      user,
      resuming,
      endReason,
    }),
    [lang, setLang, client, user, resuming, endReason],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
