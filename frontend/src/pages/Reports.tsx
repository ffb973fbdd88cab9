// The lab's year: activityReport as figures, charts and tables, KPI progress, exports.
import { useState } from 'react';
import { useApp } from '../app/context';
import { useQuery } from '../app/hooks';
import { BarChart, MonthlyChart, Progress } from '../components/charts';
import { Banner, ErrorState, Loading, PageTitle, SelectField, TableScroll } from '../components/ui';
import type { CountFieldsFragment } from '../gql/graphql';
import { ReportDoc } from '../graphql/ops';
import { fiscalYearOf, formatDateTime, formatFiscalYear } from '../lib/format';
import type { MsgKey } from '../lib/i18n';
import type { EnumName } from '../lib/labels';
import { KpiEditor } from './KpiEditor';

/** Fiscal years offered by the picker: this one and the six before it (back to 令和元年度 at most). */
export function fiscalYearChoices(now: Date): number[] {
  const current = fiscalYearOf(now);
  const out: number[] = [];
  for (let fy = current; fy >= Math.max(2019, current - 6); fy--) out.push(fy);
  return out;
}

export function formatRate(v: number | null | undefined): string {
  return v == null ? '—' : `${(v * 100).toFixed(1)}%`;
}

export function formatDays(v: number | null | undefined, unit: string): string {
  return v == null ? '—' : `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit}`;
}

/** Where the export endpoints live (see the README of the backend). */
export type ExportKind = 'cases' | 'referrals' | 'json';

export function exportUrl(fy: number, kind: ExportKind): string {
  return kind === 'json' ? `/api/reports/${fy}.json` : `/api/reports/${fy}.csv?kind=${kind}`;
}

/** The file name from Content-Disposition (RFC 5987 filename* first), else a default. */
export function fileNameFrom(disposition: string | null, fallback: string): string {
  if (!disposition) return fallback;
  const star = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(disposition);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''));
    } catch {
      /* fall through */
    }
  }
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  return plain ? plain[1] : fallback;
}

function CountTable({ items, title, enumName }: { items: CountFieldsFragment[]; title: string; enumName?: EnumName }) {
  const { t, e } = useApp();
  const label = (i: CountFieldsFragment) => (i.key === '' ? t('notRecorded') : enumName ? e(enumName, i.key) : i.label || i.key);
  return (
    <TableScroll label={title}>
      <table className="table compact-table">
        <caption className="visually-hidden">{title}</caption>
        <thead>
          <tr>
            <th scope="col">{title}</th>
            <th scope="col" className="num">
              {t('count')}
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((i) => (
            <tr key={i.key}>
              <td>{label(i)}</td>
              <td className="num">{i.count}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

function Breakdown({ items, titleKey, enumName, chart = true }: { items: CountFieldsFragment[]; titleKey: MsgKey; enumName?: EnumName; chart?: boolean }) {
  const { t, e } = useApp();
  const title = t(titleKey);
  const data = items.map((i) => ({ label: i.key === '' ? t('notRecorded') : enumName ? e(enumName, i.key) : i.label || i.key, value: i.count }));
  return (
    <section className="card" aria-labelledby={`rep-${titleKey}`}>
      <h2 id={`rep-${titleKey}`}>{title}</h2>
      {items.length === 0 ? (
        <p className="empty">{t('noItems')}</p>
      ) : (
        <>
          {chart && <BarChart data={data} title={title} />}
          <details>
            <summary>{t('tableOf', { title })}</summary>
            <CountTable items={items} title={title} enumName={enumName} />
          </details>
        </>
      )}
    </section>
  );
}

function Downloads({ fy }: { fy: number }) {
  const { t, client, lang } = useApp();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const download = async (format: ExportKind) => {
    setBusy(format);
    setError(null);
    try {
      if (!client.bearer) await client.refresh();
      const res = await fetch(exportUrl(fy, format), {
        headers: { Authorization: `Bearer ${client.bearer ?? ''}`, 'Accept-Language': lang },
        credentials: 'same-origin',
      });
      if (!res.ok) {
        let msg = `HTTP ${res.status}`;
        try {
          const j = (await res.json()) as { message?: string; error?: string; errors?: { message: string }[] };
          msg = j.errors?.[0]?.message ?? j.message ?? j.error ?? msg;
        } catch {
          /* keep the status */
        }
        throw new Error(msg);
      }
      const name = fileNameFrom(res.headers.get('Content-Disposition'), `dxdesk-${fy}-${format}.${format === 'json' ? 'json' : 'csv'}`);
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(null);
    }
  };
  return (
    <div className="downloads">
      <div className="btn-row">
        <button type="button" className="btn btn-secondary" onClick={() => void download('cases')} disabled={busy != null}>
          {busy === 'cases' ? t('downloading') : t('downloadCsvCases')}
        </button>
        <button type="button" className="btn btn-secondary" onClick={() => void download('referrals')} disabled={busy != null}>
          {busy === 'referrals' ? t('downloading') : t('downloadCsvReferrals')}
        </button>
        <button type="button" className="btn btn-secondary" onClick={() => void download('json')} disabled={busy != null}>
          {busy === 'json' ? t('downloading') : t('downloadJson')}
        </button>
      </div>
      <Banner kind="error">{error}</Banner>
    </div>
  );
}

export function ReportsPage() {
  const { t, e, lang, user } = useApp();
  const choices = fiscalYearChoices(new Date());
  const [fy, setFy] = useState(choices[0]);
  const q = useQuery(ReportDoc, { fiscalYear: fy });
  const r = q.data?.activityReport;

  return (
    <section className="reports">
      <PageTitle actions={<Downloads fy={fy} />}>
        {t('reportsTitle')} <span className="muted">{formatFiscalYear(fy, lang)}</span>
      </PageTitle>
      <div className="report-head">
        <SelectField id="fiscal-year" label={t('fiscalYear')} value={String(fy)} onChange={(ev) => setFy(Number(ev.target.value))} options={choices.map((y) => ({ value: String(y), label: `${formatFiscalYear(y, lang)}（${y}）` }))} />
        <p className="lead">{t('reportsLead')}</p>
      </div>
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}
      {q.loading && <Loading />}
      {r && (
        <div aria-busy={q.loading}>
          {r.institution && <Banner kind="info">{t('partnerScope', { name: r.institution.name })}</Banner>}
          <p className="muted">
            {t('generatedAt')}: {formatDateTime(r.generatedAt, lang)}
          </p>
          <section aria-labelledby="rep-headline">
            <h2 id="rep-headline">{t('headline')}</h2>
            <div className="figures" data-testid="report-figures">
              {(
                [
                  ['casesOpened', r.casesOpened],
                  ['businessesSupported', r.businessesSupported],
                  ['newBusinesses', r.newBusinesses],
                  ['referralsTotal', r.referrals.referrals],
                  ['acceptanceRate', formatRate(r.referrals.acceptanceRate)],
                  ['pickupMedian', formatDays(r.referrals.pickupMedianDays, t('days'))],
                  ['casesResolved', r.resolution.casesResolved],
                  ['resolutionMedian', formatDays(r.resolution.medianDays, t('days'))],
                  ['knowToConsult', r.stageMovements.knowToConsult],
                  ['consultToTry', r.stageMovements.consultToTry],
                ] as [MsgKey, string | number][]
              ).map(([k, v]) => (
                <div key={k} className="figure">
                  <div className="figure-n">{v}</div>
                  <div className="figure-label">{t(k)}</div>
                </div>
              ))}
            </div>
          </section>

          <section className="card" aria-labelledby="rep-kpi">
            <h2 id="rep-kpi">{t('kpi')}</h2>
            {r.kpis.length === 0 ? (
              <p className="empty">{t('noKpis')}</p>
            ) : (
              r.kpis.map((k) => (
                <div key={k.id} className="kpi">
                  <div className="kpi-head">
                    <strong>{k.name}</strong>
                    <span>
                      {t('actual')} {k.actual ?? '—'} / {t('target')} {k.target} {k.unit}
                      {k.progress != null && ` (${Math.round(k.progress * (k.progress <= 10 ? 100 : 1))}%)`}
                    </span>
                  </div>
                  <Progress actual={k.actual ?? 0} target={k.target} label={k.name} />
                </div>
              ))
            )}
          </section>
          {user?.role === 'ADMIN' && <KpiEditor key={fy} fiscalYear={fy} onChanged={() => q.reload()} />}

          <section className="card" aria-labelledby="rep-monthly">
            <h2 id="rep-monthly">{t('monthly')}</h2>
            <MonthlyChart
              title={t('monthly')}
              labels={r.monthly.map((m) => (lang === 'ja' ? m.label : String(((m.index + 3) % 12) + 1)))}
              series={[
                { name: t('casesOpened'), values: r.monthly.map((m) => m.casesOpened) },
                { name: t('referralsTotal'), values: r.monthly.map((m) => m.referrals) },
              ]}
            />
            <details>
              <summary>{t('monthlyTable')}</summary>
              <TableScroll label={t('monthly')}>
                <table className="table compact-table">
                  <thead>
                    <tr>
                      <th scope="col" />
                      <th scope="col" className="num">{t('casesOpened')}</th>
                      <th scope="col" className="num">{t('newBusinesses')}</th>
                      <th scope="col" className="num">{t('referralsTotal')}</th>
                      <th scope="col" className="num">{t('casesResolved')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {r.monthly.map((m) => (
                      <tr key={m.index}>
                        <th scope="row">{m.label}</th>
                        <td className="num">{m.casesOpened}</td>
                        <td className="num">{m.newBusinesses}</td>
                        <td className="num">{m.referrals}</td>
                        <td className="num">{m.casesResolved}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableScroll>
            </details>
          </section>

          <div className="grid-2">
            <Breakdown items={r.byStage} titleKey="byStage" enumName="Stage" />
            <Breakdown items={r.byChannel} titleKey="byChannel" enumName="Channel" />
            <Breakdown items={r.byStatus} titleKey="byStatus" enumName="CaseStatus" />
            <Breakdown items={r.byRegion} titleKey="byRegion" />
          </div>
          <Breakdown items={r.byIndustry} titleKey="byIndustry" enumName="Industry" />

          <section className="card" aria-labelledby="rep-inst">
            <h2 id="rep-inst">{t('referralsByInstitution')}</h2>
            <TableScroll label={t('referralsByInstitution')}>
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">{t('institution')}</th>
                    <th scope="col" className="num">{t('referralsTotal')}</th>
                    <th scope="col" className="num">{t('accepted')}</th>
                    <th scope="col" className="num">{t('declined')}</th>
                    <th scope="col" className="num">{t('openReferrals')}</th>
                    <th scope="col" className="num">{t('overdue')}</th>
                    <th scope="col" className="num">{t('acceptanceRate')}</th>
                    <th scope="col" className="num">{t('pickupMedian')}</th>
                    <th scope="col" className="num">{t('pickupP90')}</th>
                  </tr>
                </thead>
                <tbody>
                  {r.referralsByInstitution.map((x) => (
                    <tr key={x.institution.id}>
                      <th scope="row">{x.institution.name}</th>
                      <td className="num">{x.figures.referrals}</td>
                      <td className="num">{x.figures.accepted}</td>
                      <td className="num">{x.figures.declined}</td>
                      <td className="num">{x.figures.open}</td>
                      <td className="num">{x.figures.overdue}</td>
                      <td className="num">{formatRate(x.figures.acceptanceRate)}</td>
                      <td className="num">{formatDays(x.figures.pickupMedianDays, t('days'))}</td>
                      <td className="num">{formatDays(x.figures.pickupP90Days, t('days'))}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
            <h3 className="sub-heading">{t('declineReasons')}</h3>
            <CountTable items={r.referrals.declineReasons} title={t('declineReasons')} enumName="DeclineReason" />
          </section>

          <section className="card" aria-labelledby="rep-outcomes">
            <h2 id="rep-outcomes">{t('outcomesTitle')}</h2>
            <BarChart data={r.outcomes.map((o) => ({ label: e('Outcome', o.outcome), value: o.cases }))} title={t('outcomesTitle')} />
            <table className="table compact-table">
              <thead>
                <tr>
                  <th scope="col">{t('outcomesTitle')}</th>
                  <th scope="col" className="num">{t('cases')}</th>
                  <th scope="col" className="num">{t('businesses')}</th>
                </tr>
              </thead>
              <tbody>
                {r.outcomes.map((o) => (
                  <tr key={o.outcome}>
                    <td>{e('Outcome', o.outcome)}</td>
                    <td className="num">{o.cases}</td>
                    <td className="num">{o.businesses}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="muted">
              {t('resolutionP90')}: {formatDays(r.resolution.p90Days, t('days'))}
            </p>
          </section>

          <section className="card" aria-labelledby="rep-muni">
            <h2 id="rep-muni">{t('byMunicipality')}</h2>
            <details>
              <summary>{t('byMunicipality')}（{r.byMunicipality.length}）</summary>
              <CountTable items={r.byMunicipality} title={t('byMunicipality')} />
            </details>
          </section>
        </div>
      )}
    </section>
  );
}
