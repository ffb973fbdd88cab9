// Live updates: a small graphql-transport-ws client, one WebSocket per tab on
// /graphql/ws, opened while something is subscribed. The access token goes in
// connection_init; the server closes with 4403 when it expires, and the client
// reconnects (with the refreshed token) and re-subscribes, like after any drop.

export interface LiveSink {
  next: (data: Record<string, unknown>) => void;
  error?: (errors: unknown) => void;
}

interface Sub {
  query: string;
  variables: () => Record<string, unknown>;
  sink: LiveSink;
}

type Message =
  | { type: 'connection_ack' }
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'next'; id: string; payload: { data?: Record<string, unknown> | null; errors?: unknown[] } }
  | { type: 'error'; id: string; payload: unknown[] }
  | { type: 'complete'; id: string };

export const PROTOCOL = 'graphql-transport-ws';
const MAX_BACKOFF_MS = 10_000;

export function liveUrl(loc: { protocol: string; host: string } = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/graphql/ws`;
}

/** The delay before reconnect attempt `n` (0-based): 0.5 s doubling to 10 s, with jitter. */
export function backoff(n: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** n);
  return Math.round(base / 2 + (random() * base) / 2);
}

export class LiveClient {
  private socket: WebSocket | null = null;
  private acked = false;
  private subs = new Map<string, Sub>();
  private nextId = 1;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly token: () => string | null,
    private readonly url: () => string = () => liveUrl(),
    private readonly makeSocket: (url: string) => WebSocket = (u) => new WebSocket(u, PROTOCOL),
  ) {}

  /** Subscribes; `variables` is read again at each (re)connection. Returns the unsubscribe. */
  subscribe(query: string, variables: () => Record<string, unknown>, sink: LiveSink): () => void {
    const id = String(this.nextId++);
    this.subs.set(id, { query, variables, sink });
    if (this.acked) this.start(id);
    else this.open();
    return () => {
      if (!this.subs.delete(id)) return;
      if (this.acked) this.send({ id, type: 'complete' });
      if (this.subs.size === 0) this.shut();
    };
  }

  private send(m: unknown) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(m));
  }

  private start(id: string) {
    const s = this.subs.get(id);
    if (s) this.send({ id, type: 'subscribe', payload: { query: s.query, variables: s.variables() } });
  }

  private open() {
    if (this.socket || this.timer || this.subs.size === 0) return;
    const token = this.token();
    if (!token) {
      this.retry();
      return;
    }
    const ws = this.makeSocket(this.url());
    this.socket = ws;
    this.acked = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    ws.onmessage = (ev) => this.receive(JSON.parse(String(ev.data)) as Message);
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.socket = null;
      this.acked = false;
      this.retry();
    };
  }

  private receive(m: Message) {
    switch (m.type) {
      case 'connection_ack':
        this.acked = true;
        this.attempts = 0;
        for (const id of this.subs.keys()) this.start(id);
        break;
      case 'ping':
        this.send({ type: 'pong' });
        break;
      case 'next': {
        const s = this.subs.get(m.id);
        if (!s) break;
        if (m.payload.errors?.length) s.sink.error?.(m.payload.errors);
        else if (m.payload.data) s.sink.next(m.payload.data);
        break;
      }
      case 'error':
        this.subs.get(m.id)?.sink.error?.(m.payload);
        this.subs.delete(m.id);
        break;
      case 'complete':
        this.subs.delete(m.id);
        break;
    }
  }

  private retry() {
    if (this.subs.size === 0 || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, backoff(this.attempts++));
  }

  private shut() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.socket;
    this.socket = null;
    this.acked = false;
    ws?.close(1000);
  }
}
