import { describe, expect, it } from 'vitest';
import { filterFromQuery } from './CaseList';
import { helpingText } from './PublicStatus';


describe('case page logic', () => {
  it('maps every filter', () => {
    const q = new URLSearchParams('status=NEW,IN_PROGRESS&stage=TRY&institution=i1&topic=IoT&search=りんご&overdue=1&assigned=me&channel=WEB_FORM');
    expect(filterFromQuery(q, 'me-id')).toEqual({
      status: ['NEW', 'IN_PROGRESS'],
      stage: ['TRY'],
      channel: ['WEB_FORM'],
      institutionId: 'i1',
      topic: 'IoT',
      search: 'りんご',
      overdue: true,
      assignedToId: 'me-id',
    });
    expect(filterFromQuery(new URLSearchParams(''), 'x')).toEqual({});
  });
});

describe('status page wording', () => {
  it('says who is helping', () => {
    expect(helpingText('弘前大学', 'ja')).toBe('弘前大学が対応中');
    expect(helpingText('弘前大学', 'en')).toBe('Accepted by 弘前大学');
  });
});

import { exportUrl, fileNameFrom, fiscalYearChoices, formatDays, formatRate } from './Reports';

describe('reports page helpers', () => {
  it('offers this fiscal year first, and never before 令和元年度', () => {
    expect(fiscalYearChoices(new Date('2026-03-31T12:00:00+09:00'))).toEqual([2025, 2024, 2023, 2022, 2021, 2020, 2019]);
    expect(fiscalYearChoices(new Date('2021-04-01T00:00:00+09:00'))).toEqual([2021, 2020, 2019]);
  });
  it('formats rates and days', () => {
    expect(formatRate(0.8333)).toBe('83.3%');
    expect(formatRate(null)).toBe('—');
    expect(formatDays(2, '日')).toBe('2 日');
    expect(formatDays(1.25, 'days')).toBe('1.3 days');
  });
  it('points at the export endpoints', () => {
    expect(exportUrl(2024, 'cases')).toBe('/api/reports/2024.csv?kind=cases');
    expect(exportUrl(2024, 'referrals')).toBe('/api/reports/2024.csv?kind=referrals');
    expect(exportUrl(2024, 'json')).toBe('/api/reports/2024.json');
  });
  it('takes the file name from Content-Disposition', () => {
    expect(fileNameFrom('attachment; filename="AOM-2024-cases.csv"', 'x')).toBe('AOM-2024-cases.csv');
    expect(fileNameFrom("attachment; filename=\"a.csv\"; filename*=UTF-8''%E5%A0%B1%E5%91%8A.csv", 'x')).toBe('報告.csv');
    expect(fileNameFrom(null, 'x.csv')).toBe('x.csv');
  });
});
