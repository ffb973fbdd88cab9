// Formatting helpers: Japan time, Japanese fiscal years (令和N年度), time left to a deadline.
import type { Lang } from './i18n';

const TZ = 'Asia/Tokyo';
const locale = (lang: Lang) => (lang === 'ja' ? 'ja-JP' : 'en-GB');

/** The Reiwa year of a fiscal year (FY2019 = 1, FY2024 = 6). */
export function reiwaYear(fiscalYear: number): number {
  return fiscalYear - 2018;
}

/** FY2024 → 「令和6年度」 / "FY2024 (Reiwa 6)"; FY2019 → 「令和元年度」. */
export function formatFiscalYear(fiscalYear: number, lang: Lang): string {
  const r = reiwaYear(fiscalYear);
  if (r < 1) {
    return lang === 'ja' ? `${fiscalYear}年度` : `FY${fiscalYear}`;
  }
  if (lang === 'ja') return `令和${r === 1 ? '元' : r}年度`;
  return `FY${fiscalYear} (Reiwa ${r})`;
}

/** Calendar parts of an instant in Japan time. */
export function japanParts(d: Date): { year: number; month: number; day: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: TZ,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
  }).formatToParts(d);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  return { year: get('year'), month: get('month'), day: get('day') };
}

/** The fiscal year (April 1 – March 31, Japan time) an instant falls in. */
export function fiscalYearOf(d: Date): number {
  const { year, month } = japanParts(d);
  return month >= 4 ? year : year - 1;
}

function toDate(v: string | Date): Date {
  return typeof v === 'string' ? new Date(v) : v;
}

/** 2026/04/01 09:05 (Japan time). */
export function formatDateTime(v: string | Date | null | undefined, lang: Lang): string {
  if (v == null) return '—';
  const d = toDate(v);
  if (Number.isNaN(d.getTime())) return '—';
  return new Intl.DateTimeFormat(locale(lang), {
    timeZone: TZ,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  }).format(d);
}

/** 2026/04/01 (Japan time). */
export function formatDate(v: string | Date | null | undefined, lang: Lang): string {
  if (v == null) return '—';
  const d = toDate(v);
  if (Number.isNaN(d.getTime())) return '—';
  return new Intl.DateTimeFormat(locale(lang), {
    timeZone: TZ,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(d);
}

/** Time left until a deadline: 「あと2日3時間」 / "2 d 3 h left"; past it 「期限超過 5時間」. */
export function formatTimeLeft(deadline: string | Date, now: Date, lang: Lang): { overdue: boolean; text: string } {
  const ms = toDate(deadline).getTime() - now.getTime();
  const overdue = ms < 0;
  const totalMinutes = Math.floor(Math.abs(ms) / 60_000);
  const days = Math.floor(totalMinutes / 1440);
  const hours = Math.floor((totalMinutes % 1440) / 60);
  const minutes = totalMinutes % 60;
  let span: string;
  if (lang === 'ja') {
    span = days > 0 ? `${days}日${hours}時間` : hours > 0 ? `${hours}時間${minutes}分` : `${minutes}分`;
    return { overdue, text: overdue ? `期限超過 ${span}` : `あと${span}` };
  }
  span = days > 0 ? `${days} d ${hours} h` : hours > 0 ? `${hours} h ${minutes} min` : `${minutes} min`;
  return { overdue, text: overdue ? `overdue by ${span}` : `${span} left` };
}

/**
 * A case count as shown: exact counts as they are (12,345); an estimate
 * (`totalCountExact: false`, lists above 1,000 cases) rounded to two
 * significant figures, to be shown as 「約12,000件」.
 */
export function formatCount(n: number, exact: boolean): string {
  if (exact || n < 100) return n.toLocaleString('en-US');
  const step = 10 ** (Math.floor(Math.log10(n)) - 1);
  return (Math.round(n / step) * step).toLocaleString('en-US');
}
