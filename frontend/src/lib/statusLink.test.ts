import { describe, expect, it } from 'vitest';
import { fromFragment, statusLink } from './statusLink';

describe('status link', () => {
  it('carries reference and code in the fragment only', () => {
    const link = statusLink('AOM-2026-000042', 'K7QM-3VXD-9PRT', 'https://desk.example.jp');
    expect(link).toBe('https://desk.example.jp/status#ref=AOM-2026-000042&code=K7QM-3VXD-9PRT');
    const url = new URL(link);
    expect(url.search).toBe('');
    expect(fromFragment(url.hash)).toEqual({ reference: 'AOM-2026-000042', accessCode: 'K7QM-3VXD-9PRT' });
  });
  it('ignores a fragment without both parts', () => {
    expect(fromFragment('#ref=AOM-2026-000042')).toBeNull();
    expect(fromFragment('')).toBeNull();
  });
});
