// Partner institution pages: the inbox of pending referrals, and the institution's cases.
import { useState } from 'react';
import { useApp } from '../app/context';
import { useNow, useQuery } from '../app/hooks';
import { useInboxLive } from '../app/live';
import { Link } from '../app/router';
import { ErrorState, Loading, PageTitle, ReferralBadge, StageBadge, StatusBadge } from '../components/ui';
import { CasesDoc, PartnerInboxDoc } from '../graphql/ops';
import { formatCount, formatDateTime, formatTimeLeft } from '../lib/format';
import { ReferralActions } from './case/ReferralActions';

const PAGE = 20;

export function PartnerInboxPage() {
  const { t, lang, user } = useApp();
  const inst = user!.institution?.id ?? null;
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const page = cursors.length - 1;
  const q = useQuery(PartnerInboxDoc, { filter: { institutionId: inst, status: ['REFERRED'] }, first: PAGE, after: cursors[page] });
  useInboxLive(q.reload);
  const now = useNow(30_000);
  const rows = (q.data?.cases.edges ?? [])
    .map((e) => ({ c: e.node, r: e.node.referrals.find((r) => r.institution.id === inst && r.status === 'PENDING') }))
    .filter((x) => x.r)
    .sort((a, b) => a.r!.pickupDeadline.localeCompare(b.r!.pickupDeadline));
  return (
    <section>
      <PageTitle>{t('inboxTitle')}</PageTitle>
      <p className="lead">{t('inboxLead')}</p>
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}
      {q.loading && <Loading />}
      {q.data && rows.length === 0 && <p className="empty">{t('noItems')}</p>}
      <ul className="inbox">
        {rows.map(({ c, r }) => {
          const left = formatTimeLeft(r!.pickupDeadline, now, lang);
          return (
            <li key={r!.id} className={left.overdue ? 'card inbox-item overdue' : 'card inbox-item'} data-testid="inbox-item">
              <div className="inbox-head">
                <div>
                  <Link href={`/cases/${c.id}`} className="mono">
                    {c.reference}
                  </Link>{' '}
                  <strong>{c.title}</strong>
                  <div className="muted">
                    {c.business.name} · <StageBadge stage={c.stage} /> · {t('referredAt')} {formatDateTime(r!.createdAt, lang)}
                  </div>
                </div>
                <div className={left.overdue ? 'deadline deadline-over' : 'deadline'}>
                  <span className="deadline-label">{t('pickupDeadline')}</span>
                  <span>{formatDateTime(r!.pickupDeadline, lang)}</span>
                  <strong>{left.text}</strong>
                </div>
              </div>
              <dl className="inbox-brief" data-testid="inbox-brief">
                <div>
                  <dt>{t('referralNote')}</dt>
                  <dd className="prewrap" data-testid="inbox-note">{r!.note?.trim() ? r!.note : t('none')}</dd>
                </div>
                <div>
                  <dt>{t('description')}</dt>
                  <dd className="prewrap" data-testid="inbox-description">{c.description?.trim() ? c.description : t('none')}</dd>
                </div>
                {c.business.municipality && (
                  <div>
                    <dt>{t('municipality')}</dt>
                    <dd>{c.business.municipality}</dd>
                  </div>
                )}
              </dl>
              <ReferralActions referral={r!} idPrefix={`inbox-${r!.id}`} onDone={() => q.reload()} />
            </li>
          );
        })}
      </ul>
      {q.data && (q.data.cases.pageInfo.hasNextPage || page > 0) && (
        <nav className="pager" aria-label={t('pagination')}>
          <button type="button" className="btn btn-secondary" disabled={page === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
            ← {t('prev')}
          </button>
          <span>{page + 1}</span>
          <button type="button" className="btn btn-secondary" disabled={!q.data.cases.pageInfo.hasNextPage} onClick={() => setCursors([...cursors, q.data!.cases.pageInfo.endCursor ?? null])}>
            {t('next')} →
          </button>
        </nav>
      )}
    </section>
  );
}

export function PartnerCasesPage() {
  const { t, lang, user } = useApp();
  const inst = user!.institution?.id ?? null;
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const page = cursors.length - 1;
  const q = useQuery(CasesDoc, { filter: { institutionId: inst }, first: PAGE, after: cursors[page] });
  const conn = q.data?.cases;
  return (
    <section>
      <PageTitle>{t('institutionCases')}</PageTitle>
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}
      {q.loading && <Loading />}
      {conn && (
        <>
          <p className="result-count" aria-live="polite">
            {t(conn.totalCountExact ? 'resultCount' : 'resultCountAbout', { n: formatCount(conn.totalCount, conn.totalCountExact) })}
          </p>
          {conn.edges.length === 0 ? (
            <p className="empty">{t('noItems')}</p>
          ) : (
            <div className="table-wrap">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">{t('reference')}</th>
                    <th scope="col">{t('title')}</th>
                    <th scope="col">{t('business')}</th>
                    <th scope="col">{t('stage')}</th>
                    <th scope="col">{t('status')}</th>
                    <th scope="col">{t('referralStatus')}</th>
                    <th scope="col">{t('referredAt')}</th>
                  </tr>
                </thead>
                <tbody>
                  {conn.edges.map(({ node: c }) => {
                    const mine = c.referrals.filter((r) => r.institution.id === inst);
                    const r = mine[mine.length - 1];
                    return (
                      <tr key={c.id}>
                        <td>
                          <Link href={`/cases/${c.id}`} className="mono">
                            {c.reference}
                          </Link>
                        </td>
                        <td>{c.title}</td>
                        <td>{c.business.name}</td>
                        <td>
                          <StageBadge stage={c.stage} />
                        </td>
                        <td>
                          <StatusBadge status={c.status} />
                        </td>
                        <td>{r ? <ReferralBadge status={r.status} overdue={r.overdue} /> : '—'}</td>
                        <td className="nowrap">{r ? formatDateTime(r.createdAt, lang) : '—'}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          {(page > 0 || conn.pageInfo.hasNextPage) && (
            <nav className="pager" aria-label={t('pagination')}>
              <button type="button" className="btn btn-secondary" disabled={page === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
                ← {t('prev')}
              </button>
              <span>{page + 1}</span>
              <button type="button" className="btn btn-secondary" disabled={!conn.pageInfo.hasNextPage} onClick={() => setCursors([...cursors, conn.pageInfo.endCursor ?? null])}>
                {t('next')} →
              </button>
            </nav>
          )}
        </>
      )}
    </section>
  );
}
