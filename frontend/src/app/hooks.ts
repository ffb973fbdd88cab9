// Data hooks over the API client.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
import { useApp } from './context';
import { ActionKey } from '../lib/idempotency';

type Doc<R, V> = DocumentTypeDecoration<R, V> & { toString(): string };

export interface QueryState<R> {
  data: R | null;
  error: Error | null;
  loading: boolean;
  reload: () => Promise<R | null>;
}

/** Run a query on mount and whenever `key` changes (a JSON of the variables by default). */
export function useQuery<R, V>(doc: Doc<R, V>, variables: V, opts: { skip?: boolean; anonymous?: boolean } = {}): QueryState<R> {
  const { client, lang } = useApp();
  const key = JSON.stringify(variables ?? {});
  const [state, setState] = useState<{ data: R | null; error: Error | null; loading: boolean }>({
    data: null,
    error: null,
    loading: !opts.skip,
  });
  const seq = useRef(0);
  const varsRef = useRef(variables);
  varsRef.current = variables;

  const run = useCallback(async (): Promise<R | null> => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    try {
      const data = await client.request(doc, varsRef.current, { anonymous: opts.anonymous });
      if (mine === seq.current) setState({ data, error: null, loading: false });
      return data;
    } catch (err) {
      if (mine === seq.current) setState((s) => ({ data: s.data, error: err as Error, loading: false }));
      return null;
    }
    // lang: messages come back in the UI language, so a switch re-asks
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, doc, key, lang, opts.anonymous]);

  useEffect(() => {
    if (opts.skip) return;
    void run();
  }, [run, opts.skip]);

  return { ...state, reload: run };
}

/** A write: tracks pending and the last error; returns the data or throws. */
/**
 * A mutation. With `idempotent`, each user action carries an `Idempotency-Key`,
 * reused when the same action is retried after its answer was lost.
 */
export function useMutation<R, V>(doc: Doc<R, V>, { idempotent = false }: { idempotent?: boolean } = {}) {
  const { client } = useApp();
  const [pending, setPending] = useState(false);
  const action = useRef<ActionKey | null>(null);
  const mutate = useCallback(
    async (variables: V, opts: { anonymous?: boolean } = {}): Promise<R> => {
      setPending(true);
      try {
        if (!idempotent) return await client.request(doc, variables, opts);
        action.current ??= new ActionKey();
        return await action.current.run(variables, (idempotencyKey) =>
          client.request(doc, variables, { ...opts, idempotencyKey }),
        );
      } finally {
        setPending(false);
      }
    },
    [client, doc, idempotent],
  );
  return { mutate, pending };
}

/** The current time, ticking every `ms` (for "time left" labels). */
export function useNow(ms = 60_000): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const id = setInterval(() => setNow(new Date()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}
