import { useApp } from '../app/context';
import { useNow, useQuery } from '../app/hooks';
import { useInboxLive } from '../app/live';
import { Link } from '../app/router';
import { CaseTable } from '../components/CaseTable';
import { ErrorState, Loading, PageTitle } from '../components/ui';
import { DashboardDoc } from '../graphql/ops';
import { formatCount, formatDateTime, formatTimeLeft } from '../lib/format';

export function DashboardPage() {
  const { t, e, lang, user } = useApp();
  const q = useQuery(DashboardDoc, { me: user!.id });
  useInboxLive(q.reload);
  const now = useNow();
  if (!q.data) {
    return (
      <section>
        <PageTitle>{t('dashTitle')}</PageTitle>
        {q.error ? <ErrorState error={q.error} onRetry={() => void q.reload()} /> : <Loading />}
      </section>
    );
  }
  const d = q.data!;
  const stages = [
    { key: 'KNOW', n: d.know.totalCount },
    { key: 'CONSULT', n: d.consult.totalCount },
    { key: 'TRY', n: d.try.totalCount },
  ];
  const max = Math.max(1, ...stages.map((s) => s.n));
  // The API selects the handed-back cases (`CaseFilter.handedBack`); each shows the partner's
  // latest completed referral.
  const handedBack = d.handedBack.edges.map(({ node: c }) => ({
    c,
    r: c.referrals.filter((r) => r.status === 'COMPLETED').sort((a, b) => (b.completedAt ?? '').localeCompare(a.completedAt ?? ''))[0],
  }));
  return (
    <section>
      <PageTitle>{t('dashTitle')}</PageTitle>
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}
      <div className="grid-2">
        <section className="card" aria-labelledby="dash-stage">
          <h2 id="dash-stage">{t('countsByStage')}</h2>
          <ul className="stage-counts">
            {stages.map((s) => (
              <li key={s.key}>
                <Link href={`/cases?stage=${s.key}&status=NEW,IN_PROGRESS,ON_HOLD,REFERRED`} className="stage-count">
                  <span className="stage-count-label">{e('Stage', s.key)}</span>
                  <span className="stage-count-n" data-testid={`stage-count-${s.key}`}>{s.n}</span>
                  <span className="bar" aria-hidden="true">
                    <span className={`bar-fill bar-w-${Math.round((s.n / max) * 20) * 5}`} />
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        </section>
        <section className="card" aria-labelledby="dash-overdue">
          <h2 id="dash-overdue">
            {t('overdueReferrals')} <span className="count">{d.overdueReferrals.length}</span>
          </h2>
          {d.overdueReferrals.length === 0 ? (
            <p className="empty">{t('noItems')}</p>
          ) : (
            <ul className="plain-list">
              {d.overdueReferrals.slice(0, 10).map((r) => (
                <li key={r.id} className="overdue-item">
                  <Link href={`/cases/${r.case.id}`} className="mono">
                    {r.case.reference}
                  </Link>{' '}
                  {r.case.business.name} → {r.institution.name}
                  <span className="badge badge-overdue">{formatTimeLeft(r.pickupDeadline, now, lang).text}</span>
                </li>
              ))}
            </ul>
          )}
          {d.overdueReferrals.length > 10 && <Link href="/cases?overdue=1">{t('viewAll')}</Link>}
        </section>
      </div>
      <section className="card" aria-labelledby="dash-handed-back" data-testid="dash-handed-back">
        <h2 id="dash-handed-back">
          {t('handedBack')} <span className="count">{formatCount(d.handedBack.totalCount, d.handedBack.totalCountExact)}</span>
        </h2>
        <p className="muted">{t('handedBackLead')}</p>
        {handedBack.length === 0 ? (
          <p className="empty">{t('noItems')}</p>
        ) : (
          <ul className="plain-list">
            {handedBack.map(({ c, r }) => (
              <li key={c.id}>
                <Link href={`/cases/${c.id}`} className="mono">
                  {c.reference}
                </Link>{' '}
                {c.title} · {c.business.name}
                {r && (
                  <>
                    {' '}· {t('completedBy')} {r.institution.name}
                    {r.completedAt && <span className="muted"> · {formatDateTime(r.completedAt, lang)}</span>}
                  </>
                )}
              </li>
            ))}
          </ul>
        )}
        {d.handedBack.totalCount > d.handedBack.edges.length && <Link href="/cases?handedBack=1">{t('viewAll')}</Link>}
      </section>
      <section className="card" aria-labelledby="dash-web">
        <h2 id="dash-web">
          {t('newWebSubmissions')} <span className="count">{d.web.totalCount}</span>
        </h2>
        <CaseTable rows={d.web.edges.map((x) => x.node)} compact />
        {d.web.totalCount > d.web.edges.length && <Link href="/cases?channel=WEB_FORM&status=NEW">{t('viewAll')}</Link>}
      </section>
      <section className="card" aria-labelledby="dash-mine">
        <h2 id="dash-mine">
          {t('myOpenCases')} <span className="count">{d.mine.totalCount}</span>
        </h2>
        <CaseTable rows={d.mine.edges.map((x) => x.node)} compact />
        {d.mine.totalCount > d.mine.edges.length && <Link href={`/cases?assigned=me`}>{t('viewAll')}</Link>}
      </section>
    </section>
  );
}
