// Idempotency keys for mutations that create something (openCase, referCase,
// submitConsultation): one key per user action, sent as `Idempotency-Key`, and
// the same key again when the same action is retried after its answer was lost,
// so the server replays the first answer instead of doing the action twice.
import { ApiError } from './errors';

/** 128 random bits as hex; `crypto.getRandomValues` also works outside secure contexts. */
export function newKey(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Whether an error leaves the action unanswered, so a retry must reuse its key. */
export function unanswered(err: unknown): boolean {
  if (!(err instanceof ApiError)) return true;
  if (err.code === 'NETWORK' || err.code === 'INTERNAL' || err.code === 'RATE_LIMITED') return true;
  // CONFLICT with retryAfter: the first attempt with this key is still running.
  return err.code === 'CONFLICT' && err.retryAfter != null;
}

/** The key of one form's action: kept while the same variables are retried unanswered. */
export class ActionKey {
  private key: string | null = null;
  private sig: string | null = null;

  constructor(private readonly make: () => string = newKey) {}

  /** The key to send `variables` with: the last one if it is the same action, retried. */
  for(variables: unknown): string {
    const sig = JSON.stringify(variables ?? null);
    if (this.key == null || sig !== this.sig) {
      this.key = this.make();
      this.sig = sig;
    }
    return this.key;
  }

  /** After an attempt: an answer (success or a final error) ends the action. */
  settle(err?: unknown): void {
    if (err === undefined || !unanswered(err)) {
      this.key = null;
      this.sig = null;
    }
  }

  /** Runs `send` with the action's key and settles it. */
  async run<R>(variables: unknown, send: (key: string) => Promise<R>): Promise<R> {
    const key = this.for(variables);
    try {
      const r = await send(key);
      this.settle();
      return r;
    } catch (e) {
      this.settle(e);
      throw e;
    }
  }
}
