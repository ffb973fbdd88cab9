import { describe, expect, it, vi } from 'vitest';
import { backoff, LiveClient, liveUrl, PROTOCOL } from './live';

class FakeSocket {
  static OPEN = 1;
  readyState = 0;
  sent: unknown[] = [];
  closed: number | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(
    public url: string,
    public protocol: string,
  ) {}
  send(s: string) {
    this.sent.push(JSON.parse(s));
  }
  close(code: number) {
    this.closed = code;
  }
  // server side
  opened() {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }
  deliver(m: unknown) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
  drop() {
    this.readyState = 3;
    this.onclose?.();
  }
}

function setup(token: () => string | null = () => 'tok') {
  vi.stubGlobal('WebSocket', FakeSocket);
  const sockets: FakeSocket[] = [];
  const client = new LiveClient(token, () => 'ws://h/graphql/ws', (u) => {
    const s = new FakeSocket(u, PROTOCOL);
    sockets.push(s);
    return s as unknown as WebSocket;
  });
  return { client, sockets };
}

describe('live client (graphql-transport-ws)', () => {
  it('sends the token in connection_init, subscribes after the ack and hands over data', () => {
    const { client, sockets } = setup();
    const got: unknown[] = [];
    client.subscribe('subscription { inboxChanged { reason } }', () => ({}), { next: (d) => got.push(d) });
    const ws = sockets[0];
    ws.opened();
    expect(ws.sent).toEqual([{ type: 'connection_init', payload: { authorization: 'Bearer tok' } }]);
    ws.deliver({ type: 'connection_ack' });
    expect(ws.sent[1]).toMatchObject({ id: '1', type: 'subscribe', payload: { query: 'subscription { inboxChanged { reason } }' } });
    ws.deliver({ type: 'next', id: '1', payload: { data: { inboxChanged: { reason: 'REFERRAL' } } } });
    ws.deliver({ type: 'ping' });
    expect(got).toEqual([{ inboxChanged: { reason: 'REFERRAL' } }]);
    expect(ws.sent[2]).toEqual({ type: 'pong' });
  });

  it('reconnects after a close (an expired token: 4403) with the current token and variables', () => {
    vi.useFakeTimers();
    let token = 'old';
    let after = 3;
    const { client, sockets } = setup(() => token);
    client.subscribe('S', () => ({ afterSeq: after }), { next: () => {} });
    sockets[0].opened();
    sockets[0].deliver({ type: 'connection_ack' });
    token = 'new';
    after = 5;
    sockets[0].drop();
    vi.advanceTimersByTime(10_000);
    const ws = sockets[1];
    ws.opened();
    expect(ws.sent[0]).toEqual({ type: 'connection_init', payload: { authorization: 'Bearer new' } });
    ws.deliver({ type: 'connection_ack' });
    expect(ws.sent[1]).toMatchObject({ type: 'subscribe', payload: { variables: { afterSeq: 5 } } });
    vi.useRealTimers();
  });

  it('closes the socket when the last subscription ends', () => {
    const { client, sockets } = setup();
    const stop = client.subscribe('S', () => ({}), { next: () => {} });
    sockets[0].opened();
    sockets[0].deliver({ type: 'connection_ack' });
    stop();
    expect(sockets[0].sent.at(-1)).toEqual({ id: '1', type: 'complete' });
    expect(sockets[0].closed).toBe(1000);
  });

  it('backs off with jitter up to 10 s and picks ws or wss like the page', () => {
    expect(backoff(0, () => 0)).toBe(250);
    expect(backoff(0, () => 1)).toBe(500);
    expect(backoff(10, () => 1)).toBe(10_000);
    expect(liveUrl({ protocol: 'https:', host: 'desk.example.jp' })).toBe('wss://desk.example.jp/graphql/ws');
    expect(liveUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/graphql/ws');
  });
});
