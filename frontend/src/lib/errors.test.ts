import { describe, expect, it } from 'vitest';
import { ApiError, errorCode, normaliseField, placeError, toApiError } from './errors';

describe('error mapping', () => {
  it('reads the code, the message and the field', () => {
    const e = toApiError([{ message: '法人番号のチェックデジットが正しくありません', extensions: { code: 'BAD_USER_INPUT', field: 'input.business.corporateNumber', messageEn: 'bad check digit' } }], 'ja');
    expect(e.code).toBe('BAD_USER_INPUT');
    expect(e.message).toBe('法人番号のチェックデジットが正しくありません');
    expect(e.field).toBe('corporateNumber');
  });
  it('uses messageEn when the UI is English', () => {
    const e = toApiError([{ message: '見つかりません', extensions: { code: 'NOT_FOUND', messageEn: 'Not found' } }], 'en');
    expect(e.message).toBe('Not found');
  });
  it('an unknown or missing code is INTERNAL with a generic message (never a raw server text)', () => {
    expect(errorCode({ extensions: { code: 'WHATEVER' } })).toBe('INTERNAL');
    const e = toApiError([{ message: 'thread panicked at src/x.rs' }], 'ja');
    expect(e.code).toBe('INTERNAL');
    expect(e.message).not.toContain('src/');
  });
  it('keeps retryAfter of RATE_LIMITED', () => {
    expect(toApiError([{ message: 'x', extensions: { code: 'RATE_LIMITED', retryAfter: 30 } }], 'ja').retryAfter).toBe(30);
  });
  it('places an error next to its field when the form has it, else in the banner', () => {
    const e = new ApiError('BAD_USER_INPUT', 'メール', 'email');
    expect(placeError(e, ['email'])).toEqual({ field: 'email', message: 'メール' });
    expect(placeError(e, ['name'])).toEqual({ banner: 'メール', message: 'メール' });
    expect(placeError(new Error('boom'), ['email'])).toEqual({ banner: 'boom', message: 'boom' });
  });
  it('normalises dotted field paths', () => {
    expect(normaliseField('email')).toBe('email');
    expect(normaliseField('input.title')).toBe('title');
  });
});
