import { describe, expect, it } from 'vitest';
import { fiscalYearOf, formatCount, formatDate, formatDateTime, formatFiscalYear, formatTimeLeft, reiwaYear } from './format';

describe('令和 fiscal years', () => {
  it('FY2024 is 令和6年度', () => {
    expect(formatFiscalYear(2024, 'ja')).toBe('令和6年度');
    expect(reiwaYear(2024)).toBe(6);
  });
  it('FY2019 is 令和元年度 (the first year is 元)', () => {
    expect(formatFiscalYear(2019, 'ja')).toBe('令和元年度');
    expect(formatFiscalYear(2020, 'ja')).toBe('令和2年度');
  });
  it('English shows both', () => {
    expect(formatFiscalYear(2024, 'en')).toBe('FY2024 (Reiwa 6)');
  });
  it('before Reiwa falls back to the western year', () => {
    expect(formatFiscalYear(2018, 'ja')).toBe('2018年度');
  });
});

describe('fiscal year of an instant (Japan time)', () => {
  it('March 31 23:59 JST belongs to the previous fiscal year', () => {
    expect(fiscalYearOf(new Date('2025-03-31T23:59:00+09:00'))).toBe(2024);
  });
  it('April 1 00:00 JST starts the new one, even though it is still March 31 in UTC', () => {
    expect(fiscalYearOf(new Date('2025-03-31T15:00:00Z'))).toBe(2025);
  });
});

describe('dates in Japan time', () => {
  it('shows the Japanese calendar day, whatever the machine zone', () => {
    // 2026-03-31T16:30Z is April 1, 01:30 in Tokyo
    expect(formatDateTime('2026-03-31T16:30:00Z', 'ja')).toBe('2026/04/01 01:30');
    expect(formatDate('2026-03-31T16:30:00Z', 'ja')).toBe('2026/04/01');
  });
  it('English uses day/month/year', () => {
    expect(formatDateTime('2026-03-31T16:30:00Z', 'en')).toBe('01/04/2026, 01:30');
  });
  it('missing or bad values show a dash', () => {
    expect(formatDateTime(null, 'ja')).toBe('—');
    expect(formatDate('not a date', 'ja')).toBe('—');
  });
});

describe('time left to a pick-up deadline', () => {
  const now = new Date('2026-04-01T00:00:00Z');
  it('days and hours ahead', () => {
    expect(formatTimeLeft('2026-04-03T03:00:00Z', now, 'ja')).toEqual({ overdue: false, text: 'あと2日3時間' });
    expect(formatTimeLeft('2026-04-03T03:00:00Z', now, 'en')).toEqual({ overdue: false, text: '2 d 3 h left' });
  });
  it('hours and minutes when under a day', () => {
    expect(formatTimeLeft('2026-04-01T05:07:00Z', now, 'ja').text).toBe('あと5時間7分');
  });
  it('past the deadline is overdue', () => {
    expect(formatTimeLeft('2026-03-31T19:00:00Z', now, 'ja')).toEqual({ overdue: true, text: '期限超過 5時間0分' });
    expect(formatTimeLeft('2026-03-31T19:00:00Z', now, 'en').text).toBe('overdue by 5 h 0 min');
  });
});

describe('case counts', () => {
  it('shows exact counts as they are', () => {
    expect(formatCount(987, true)).toBe('987');
    expect(formatCount(12345, true)).toBe('12,345');
  });
  it('rounds an estimate to two significant figures', () => {
    expect(formatCount(12345, false)).toBe('12,000');
    expect(formatCount(1000001, false)).toBe('1,000,000');
    expect(formatCount(1050, false)).toBe('1,100');
  });
});
