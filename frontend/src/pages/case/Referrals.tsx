import { useState } from 'react';
import { useApp } from '../../app/context';
import { useMutation, useNow, useQuery } from '../../app/hooks';
import { Banner, ErrorState, FormMessages, Loading, ReferralBadge, SelectField, TextArea, useFormErrors } from '../../components/ui';
import type { CaseFullFragment } from '../../gql/graphql';
import { InstitutionsDoc, ReferDoc, SuggestDoc, WithdrawDoc } from '../../graphql/ops';
import { formatDateTime, formatTimeLeft } from '../../lib/format';
import { ReferralActions } from './ReferralActions';

type Case = CaseFullFragment;

/** Suggestions shown before "show all". */
const TOP = 5;

export function ReferralList({ c, desk, myInstitutionId, onChanged }: { c: Case; desk: boolean; myInstitutionId?: string | null; onChanged: () => Promise<unknown> }) {
  const { t, e, lang } = useApp();
  const now = useNow();
  const withdraw = useMutation(WithdrawDoc);
  const form = useFormErrors([]);
  if (c.referrals.length === 0) return <p className="empty">{t('noItems')}</p>;
  return (
    <>
      <FormMessages form={form} />
      <ul className="referrals">
        {c.referrals.map((r) => {
          const left = r.status === 'PENDING' ? formatTimeLeft(r.pickupDeadline, now, lang) : null;
          const mine = myInstitutionId != null && r.institution.id === myInstitutionId;
          return (
            <li key={r.id} className="referral" data-testid={`referral-${r.status}`}>
              <div className="referral-head">
                <strong>{r.institution.name}</strong>
                <ReferralBadge status={r.status} overdue={r.overdue} />
              </div>
              <dl className="kv">
                <dt>{t('referredAt')}</dt>
                <dd>{formatDateTime(r.createdAt, lang)}</dd>
                <dt>{t('pickupDeadline')}</dt>
                <dd>
                  {formatDateTime(r.pickupDeadline, lang)}
                  {left && <span className={left.overdue ? 'badge badge-overdue' : 'badge'}>{left.text}</span>}
                </dd>
                {r.decidedAt && (
                  <>
                    <dt>{t('decidedAt')}</dt>
                    <dd>{formatDateTime(r.decidedAt, lang)}</dd>
                  </>
                )}
                {r.reason && (
                  <>
                    <dt>{t('declineReason')}</dt>
                    <dd>{e('DeclineReason', r.reason)}</dd>
                  </>
                )}
                {r.note && (
                  <>
                    <dt>{t('referralNote')}</dt>
                    <dd className="pre">{r.note}</dd>
                  </>
                )}
                {r.decisionNote && (
                  <>
                    <dt>{t('decisionNote')}</dt>
                    <dd className="pre">{r.decisionNote}</dd>
                  </>
                )}
                {r.summary && (
                  <>
                    <dt>{t('completeSummary')}</dt>
                    <dd className="pre" data-testid="referral-summary">
                      {r.summary}
                    </dd>
                  </>
                )}
                {r.completedAt && (
                  <>
                    <dt>{t('completedAt')}</dt>
                    <dd>{formatDateTime(r.completedAt, lang)}</dd>
                  </>
                )}
              </dl>
              {desk && r.status === 'PENDING' && (
                <button
                  type="button"
                  className="btn btn-secondary btn-small"
                  disabled={withdraw.pending}
                  onClick={async () => {
                    form.clear();
                    try {
                      await withdraw.mutate({ referralId: r.id, note: null });
                      await onChanged();
                    } catch (err) {
                      form.setError(err);
                    }
                  }}
                >
                  {t('withdraw')}
                </button>
              )}
              {mine && <ReferralActions referral={r} onDone={onChanged} idPrefix={`ref-${r.id}`} />}
            </li>
          );
        })}
      </ul>
    </>
  );
}

/** Refer the case: the ranked suggestions with their reasons, or any active institution. */
export function ReferPanel({ c, onChanged }: { c: Case; onChanged: () => Promise<unknown> }) {
  const { t, e } = useApp();
  const sug = useQuery(SuggestDoc, { caseId: c.id });
  const inst = useQuery(InstitutionsDoc, {});
  const refer = useMutation(ReferDoc, { idempotent: true });
  const form = useFormErrors(['institutionId', 'note']);
  const [note, setNote] = useState('');
  const [other, setOther] = useState('');
  const [showAll, setShowAll] = useState(false);

  if (!c.consentToShare) return <Banner kind="warning">{t('cannotReferNoConsent')}</Banner>;

  const open = new Set(c.referrals.filter((r) => r.isOpen).map((r) => r.institution.id));
  const doRefer = async (institutionId: string) => {
    form.clear();
    try {
      await refer.mutate({ caseId: c.id, institutionId, note: note.trim() || null });
      setNote('');
      setOther('');
      form.setSuccess(t('saved'));
      await onChanged();
      void sug.reload();
    } catch (err) {
      form.setError(err);
    }
  };

  return (
    <div className="refer-panel">
      <FormMessages form={form} />
      <TextArea id="refer-note" label={t('referralNote')} value={note} onChange={(ev) => setNote(ev.target.value)} rows={2} error={form.fields.note} />
      <h3 className="sub-heading">{t('suggested')}</h3>
      {sug.loading && <Loading />}
      {sug.error && <ErrorState error={sug.error} onRetry={() => void sug.reload()} />}
      {sug.data && (
        <ol className="suggestions">
          {sug.data.suggestInstitutions.slice(0, showAll ? undefined : TOP).map((s) => (
            <li key={s.institution.id} className="suggestion">
              <div className="suggestion-main">
                <strong>{s.institution.name}</strong>
                <span className="muted"> {e('InstitutionKind', s.institution.kind)}</span>
                <p className="suggestion-reason">
                  <span className="visually-hidden">{t('reason')}: </span>
                  {s.reason}
                </p>
                <p className="tags">{s.institution.tags.map((tag) => <span key={tag} className="tag">{tag}</span>)}</p>
              </div>
              <div className="suggestion-side">
                <span className="score" title={t('score')}>
                  {t('score')} {Math.round(s.score * (s.score <= 1 ? 100 : 1))}
                </span>
                <button type="button" className="btn btn-primary btn-small" disabled={refer.pending || open.has(s.institution.id)} onClick={() => void doRefer(s.institution.id)} aria-label={`${t('referTo')}: ${s.institution.name}`}>
                  {t('referTo')}
                </button>
              </div>
            </li>
          ))}
        </ol>
      )}
      {sug.data && sug.data.suggestInstitutions.length > TOP && (
        <button type="button" className="btn btn-ghost btn-small" aria-expanded={showAll} onClick={() => setShowAll(!showAll)}>
          {showAll ? t('showFewer') : t('showAllN', { n: sug.data.suggestInstitutions.length })}
        </button>
      )}
      <div className="inline-form">
        <SelectField
          id="refer-other"
          label={t('otherInstitution')}
          value={other}
          onChange={(ev) => setOther(ev.target.value)}
          empty="—"
          error={form.fields.institutionId}
          options={(inst.data?.institutions ?? []).filter((i) => i.active && !open.has(i.id)).map((i) => ({ value: i.id, label: i.name }))}
        />
        <button type="button" className="btn btn-secondary" disabled={!other || refer.pending} onClick={() => void doRefer(other)}>
          {t('referTo')}
        </button>
      </div>
    </div>
  );
}
