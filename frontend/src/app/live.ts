// Live-update hooks over lib/live.ts: one LiveClient per API client (so per tab).
import { useEffect, useRef } from 'react';
import { useApp } from './context';
import type { ApiClient } from '../lib/api';
import { LiveClient } from '../lib/live';

const clients = new WeakMap<ApiClient, LiveClient>();

export function liveClient(api: ApiClient): LiveClient {
  let c = clients.get(api);
  if (!c) {
    c = new LiveClient(() => api.bearer);
    clients.set(api, c);
  }
  return c;
}

/**
 * Keeps a subscription open while mounted (and `enabled`); `key` restarts it.
 * `variables` is read at each (re)connection, so it can carry the latest state.
 */
export function useLive(
  query: string,
  key: string,
  variables: () => Record<string, unknown>,
  onNext: (data: Record<string, unknown>) => void,
  enabled = true,
) {
  const { client } = useApp();
  const next = useRef(onNext);
  next.current = onNext;
  const vars = useRef(variables);
  vars.current = variables;
  useEffect(() => {
    if (!enabled || typeof WebSocket === 'undefined') return;
    return liveClient(client).subscribe(query, () => vars.current(), { next: (d) => next.current(d) });
  }, [client, query, key, enabled]);
}

export const INBOX_CHANGED = 'subscription InboxChanged { inboxChanged { reason caseId referralId } }';
export const CASE_UPDATED =
  'subscription CaseUpdated($caseId: ID!, $afterSeq: Int) { caseUpdated(caseId: $caseId, afterSeq: $afterSeq) { seq kind actor { id } } }';

/** Re-runs `reload` whenever the viewer's inbox changes (partner inbox, desk dashboard). */
export function useInboxLive(reload: () => unknown) {
  useLive(INBOX_CHANGED, 'inbox', () => ({}), () => void reload());
}
