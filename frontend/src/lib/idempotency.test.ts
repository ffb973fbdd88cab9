import { describe, expect, it } from 'vitest';
import { ActionKey, newKey, unanswered } from './idempotency';
import { ApiError } from './errors';

function counter() {
  let n = 0;
  return () => `k${++n}`;
}

describe('ActionKey', () => {
  it('reuses the key when the same action is retried after a network error', async () => {
    const key = new ActionKey(counter());
    const sent: string[] = [];
    const vars = { input: { title: 'IoT' } };
    await expect(
      key.run(vars, async (k) => {
        sent.push(k);
        throw new ApiError('NETWORK', 'offline');
      }),
    ).rejects.toThrow('offline');
    await key.run(vars, async (k) => sent.push(k));
    expect(sent).toEqual(['k1', 'k1']);
    // answered: the next action is another one
    await key.run(vars, async (k) => sent.push(k));
    expect(sent).toEqual(['k1', 'k1', 'k2']);
  });

  it('takes a new key when the input changes or the server gave a final answer', async () => {
    const key = new ActionKey(counter());
    expect(key.for({ a: 1 })).toBe('k1');
    expect(key.for({ a: 2 })).toBe('k2');
    key.settle(new ApiError('BAD_USER_INPUT', 'x'));
    expect(key.for({ a: 2 })).toBe('k3');
    key.settle(new ApiError('CONFLICT', 'in flight', undefined, 1));
    expect(key.for({ a: 2 })).toBe('k3');
    key.settle(new ApiError('CONFLICT', 'stale'));
    expect(key.for({ a: 2 })).toBe('k4');
  });

  it('knows which errors leave an action unanswered', () => {
    expect(unanswered(new ApiError('NETWORK', ''))).toBe(true);
    expect(unanswered(new ApiError('INTERNAL', ''))).toBe(true);
    expect(unanswered(new ApiError('FORBIDDEN', ''))).toBe(false);
    expect(unanswered(new TypeError('fetch failed'))).toBe(true);
  });

  it('makes 128-bit printable keys', () => {
    const a = newKey();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newKey()).not.toBe(a);
  });
});
