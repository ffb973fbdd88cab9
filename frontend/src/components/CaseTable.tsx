import { useApp } from '../app/context';
import { Link } from '../app/router';
import type { CaseRowFragment } from '../gql/graphql';
import { formatDateTime } from '../lib/format';
import { StageBadge, StatusBadge, TableScroll } from './ui';

/** A table of cases; the reference links to the case page. */
export function CaseTable({ rows, caption, compact }: { rows: CaseRowFragment[]; caption?: string; compact?: boolean }) {
  const { t, lang } = useApp();
  if (rows.length === 0) return <p className="empty">{t('noItems')}</p>;
  return (
    <TableScroll label={caption ?? t('casesTitle')}>
      <table className="table">
        {caption && <caption className="visually-hidden">{caption}</caption>}
        <thead>
          <tr>
            <th scope="col">{t('reference')}</th>
            <th scope="col">{t('title')}</th>
            <th scope="col">{t('business')}</th>
            <th scope="col">{t('stage')}</th>
            <th scope="col">{t('status')}</th>
            {!compact && <th scope="col">{t('institution')}</th>}
            {!compact && <th scope="col">{t('assignedTo')}</th>}
            <th scope="col">{t('createdAt')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => {
            const open = c.referrals.filter((r) => r.isOpen);
            const overdue = c.referrals.some((r) => r.overdue);
            return (
              <tr key={c.id} className={overdue ? 'row-overdue' : undefined}>
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
                  {overdue && <span className="badge badge-overdue">{t('overdue')}</span>}
                </td>
                {!compact && <td>{open.map((r) => r.institution.name).join(t('listSep')) || '—'}</td>}
                {!compact && <td>{c.assignedTo?.displayName ?? '—'}</td>}
                <td className="nowrap">{formatDateTime(c.createdAt, lang)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableScroll>
  );
}
