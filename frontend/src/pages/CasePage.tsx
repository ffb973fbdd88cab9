// One case: summary, desk controls, referrals, notes and the full timeline.
import { useRef, useState } from 'react';
import { useApp } from '../app/context';
import { useQuery } from '../app/hooks';
import { CASE_UPDATED, useLive } from '../app/live';
import { Link } from '../app/router';
import { ActionDetails, Banner, ErrorState, Loading, PageTitle, StageBadge, StatusBadge, usePanels } from '../components/ui';
import { CaseDoc } from '../graphql/ops';
import { ApiError, placeError } from '../lib/errors';
import { formatDateTime } from '../lib/format';
import { EditCase, ResolveControls, StageStatusControls, type Plain, type Versioned } from './case/Controls';
import { Notes } from './case/Notes';
import { ReferPanel, ReferralList } from './case/Referrals';
import { Timeline } from './case/Timeline';

export function CasePage({ id }: { id: string }) {
  const { t, e, lang, user } = useApp();
  const q = useQuery(CaseDoc, { id });
  const [msg, setMsg] = useState<{ kind: 'success' | 'error' | 'warning' | 'info'; text: string } | null>(null);
  const desk = user!.role !== 'PARTNER';
  // Action forms are collapsed until used; which are open survives the reload after a write.
  const panels = usePanels();
  // Someone else's change: say so and show it (own writes reload by themselves).
  const loadedSeq = q.data?.case?.events.at(-1)?.seq ?? null;
  const seenSeq = useRef<number | null>(null);
  if (loadedSeq != null && (seenSeq.current == null || loadedSeq > seenSeq.current)) seenSeq.current = loadedSeq;
  useLive(
    CASE_UPDATED,
    id,
    () => ({ caseId: id, afterSeq: seenSeq.current }),
    (d) => {
      const ev = d.caseUpdated as { seq: number; actor: { id: string } | null } | undefined;
      if (!ev) return;
      if (seenSeq.current == null || ev.seq > seenSeq.current) seenSeq.current = ev.seq;
      if (ev.actor?.id === user!.id) return;
      setMsg({ kind: 'info', text: t('liveCaseUpdated') });
      void q.reload();
    },
    loadedSeq != null,
  );

  if (q.loading && !q.data) return <Loading />;
  if (q.error && !q.data) {
    return (
      <section>
        <ErrorState error={q.error} onRetry={() => void q.reload()} />
        <Link href={desk ? '/cases' : '/partner/cases'}>{t('navCases')}</Link>
      </section>
    );
  }
  const c = q.data?.case;
  if (!c) {
    return (
      <section>
        <PageTitle>{t('caseNotFound')}</PageTitle>
        <Link href={desk ? '/cases' : '/partner/cases'}>{t('navCases')}</Link>
      </section>
    );
  }

  /**
   * A write that carries the version the user saw. On CONFLICT the case is reloaded:
   * if its version moved, someone else changed it — say so and show theirs, never overwrite.
   */
  const versioned: Versioned = async (write) => {
    const expected = c.version;
    setMsg(null);
    try {
      await write(expected);
      await q.reload();
      setMsg({ kind: 'success', text: t('saved') });
      return 'ok';
    } catch (err) {
      if (err instanceof ApiError && err.code === 'CONFLICT') {
        const fresh = await q.reload();
        if (fresh?.case && fresh.case.version !== expected) {
          setMsg({ kind: 'warning', text: t('staleVersion') });
          return 'stale';
        }
      }
      setMsg({ kind: 'error', text: placeError(err, []).message });
      return 'error';
    }
  };
  const plain: Plain = async (write) => {
    setMsg(null);
    try {
      await write();
      await q.reload();
      setMsg({ kind: 'success', text: t('saved') });
      return 'ok';
    } catch (err) {
      setMsg({ kind: 'error', text: placeError(err, []).message });
      await q.reload();
      return 'error';
    }
  };
  const reload = () => q.reload();
  const active = c.isOpen;
  const b = c.business;

  return (
    <article className="case-page" data-version={c.version}>
      <PageTitle>
        <span className="mono ref">{c.reference}</span> {c.title}
      </PageTitle>
      <div className="badges">
        <StageBadge stage={c.stage} />
        <StatusBadge status={c.status} />
        <span className="badge">{e('Priority', c.priority)}</span>
        <span className="badge">{e('Channel', c.channel)}</span>
      </div>
      <div className="sticky-msg">
        <Banner kind={msg?.kind ?? 'info'}>{msg ? <span data-testid="case-message">{msg.text}</span> : null}</Banner>
      </div>
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}

      <div className="case-grid">
        <div className="case-main">
          <section className="card" aria-labelledby="sec-summary">
            <h2 id="sec-summary">{t('caseDetails')}</h2>
            <p className="pre description">{c.description}</p>
            {c.topics.length > 0 && (
              <p className="tags">
                {c.topics.map((x) => (
                  <span key={x} className="tag">
                    {x}
                  </span>
                ))}
              </p>
            )}
            {c.outcomes.length > 0 && (
              <div className="outcome-box" data-testid="case-outcomes">
                <h3 className="sub-heading">{t('outcomes')}</h3>
                <p className="tags">
                  {c.outcomes.map((o) => (
                    <span key={o} className="tag tag-outcome">
                      {e('Outcome', o)}
                    </span>
                  ))}
                </p>
                {c.outcomeSummary && <p className="pre">{c.outcomeSummary}</p>}
                <p className="muted">
                  {c.resolvedAt && `${e('CaseStatus', 'RESOLVED')}: ${formatDateTime(c.resolvedAt, lang)}`}
                  {c.closedAt && ` / ${e('CaseStatus', 'CLOSED')}: ${formatDateTime(c.closedAt, lang)}`}
                </p>
              </div>
            )}
            {desk && active && <EditCase key={c.version} c={c} versioned={versioned} />}
          </section>

          <section className="card" aria-labelledby="sec-referrals">
            <h2 id="sec-referrals">{t('referrals')}</h2>
            <ReferralList c={c} desk={desk} myInstitutionId={user!.institution?.id} onChanged={reload} />
            {desk && active && (
              // Open by itself only while nothing was referred yet: then referring is the desk's next step.
              <ActionDetails name="refer" summary={t('refer')} panels={panels} byDefault={c.referrals.length === 0}>
                <ReferPanel c={c} onChanged={reload} />
              </ActionDetails>
            )}
          </section>

          <section className="card" aria-labelledby="sec-notes">
            <h2 id="sec-notes">{t('notes')}</h2>
            <Notes caseId={c.id} notes={c.notes} choices={c.writableNoteVisibilities} onChanged={reload} />
          </section>

          {desk && (
            <section className="card" aria-labelledby="sec-controls">
              <h2 id="sec-controls">{t('caseActions')}</h2>
              {active && <StageStatusControls key={`ss-${c.version}`} c={c} versioned={versioned} panels={panels} />}
              <ResolveControls key={`rc-${c.version}`} c={c} versioned={versioned} plain={plain} panels={panels} />
            </section>
          )}
        </div>

        <aside className="case-side">
          <section className="card" aria-labelledby="sec-business">
            <h2 id="sec-business">{t('business')}</h2>
            {desk && <Link href={`/businesses/${b.id}`}>{t('bizOpenPage')}</Link>}
            <dl className="kv">
              <dt>{t('businessName')}</dt>
              <dd>{b.name}</dd>
              {b.corporateNumber && (
                <>
                  <dt>{t('corporateNumber')}</dt>
                  <dd className="mono">{b.corporateNumber}</dd>
                </>
              )}
              {b.industry && (
                <>
                  <dt>{t('industryShort')}</dt>
                  <dd>{e('Industry', b.industry)}</dd>
                </>
              )}
              {b.municipality && (
                <>
                  <dt>{t('municipality')}</dt>
                  <dd>{b.municipality}</dd>
                </>
              )}
              {b.contactName && (
                <>
                  <dt>{t('contactName')}</dt>
                  <dd>{b.contactName}</dd>
                </>
              )}
              {b.email && (
                <>
                  <dt>{t('email')}</dt>
                  <dd>{b.email}</dd>
                </>
              )}
              {b.phone && (
                <>
                  <dt>{t('phone')}</dt>
                  <dd>{b.phone}</dd>
                </>
              )}
              <dt>{t('consent')}</dt>
              <dd className={c.consentToShare ? 'ok' : 'warn'}>{c.consentToShare ? t('consentGiven') : t('consentNotGiven')}</dd>
              <dt>{t('emailUpdates')}</dt>
              <dd data-testid="email-updates">{c.emailUpdates ? t('emailUpdatesOn') : t('emailUpdatesOff')}</dd>
              <dt>{t('assignedTo')}</dt>
              <dd>{c.assignedTo?.displayName ?? '—'}</dd>
              <dt>{t('createdAt')}</dt>
              <dd>{formatDateTime(c.createdAt, lang)}</dd>
              <dt>{t('updatedAt')}</dt>
              <dd>{formatDateTime(c.updatedAt, lang)}</dd>
            </dl>
          </section>
          <section className="card" aria-labelledby="sec-timeline">
            <h2 id="sec-timeline">{t('timeline')}</h2>
            <Timeline events={c.events} />
          </section>
        </aside>
      </div>
    </article>
  );
}
