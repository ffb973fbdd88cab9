// For businesses, no login: the status of a case from its reference and access code.
import { useEffect, useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { useLocation } from '../app/router';
import { Banner, StageBadge, StatusBadge, TextField, useFormErrors, FormMessages } from '../components/ui';
import type { CaseStatusQuery } from '../gql/graphql';
import { CaseStatusDoc } from '../graphql/ops';
import { formatDate, formatDateTime } from '../lib/format';
import { fromFragment } from '../lib/statusLink';

type Status = NonNullable<CaseStatusQuery['caseStatus']>;

export function helpingText(name: string, lang: 'ja' | 'en'): string {
  return lang === 'ja' ? `${name}が対応中` : `Accepted by ${name}`;
}

export function StatusPage() {
  const { t, e, lang, client } = useApp();
  const { query } = useLocation();
  // A status link (`#ref=…&code=…`) fills the form and looks the case up at once;
  // the fragment never leaves the browser.
  const [linked] = useState(() => fromFragment(location.hash));
  const [reference, setReference] = useState(linked?.reference ?? query.get('ref') ?? '');
  const [code, setCode] = useState(linked?.accessCode ?? '');
  const [pending, setPending] = useState(false);
  const [status, setStatus] = useState<Status | null>(null);
  const form = useFormErrors(['reference', 'accessCode']);

  const lookUp = async (ref: string, accessCode: string) => {
    form.clear();
    setStatus(null);
    if (!ref.trim()) form.setField('reference', t('referenceMissing'));
    if (!accessCode.trim()) form.setField('accessCode', t('accessCodeMissing'));
    if (!ref.trim() || !accessCode.trim()) return;
    setPending(true);
    try {
      const d = await client.request(CaseStatusDoc, { reference: ref.trim().toUpperCase(), accessCode: accessCode.trim() }, { anonymous: true });
      if (d.caseStatus) setStatus(d.caseStatus);
      else form.setError(new Error(t('statusNotFound')));
    } catch (err) {
      form.setError(err);
    } finally {
      setPending(false);
    }
  };
  const submit = (ev: FormEvent) => {
    ev.preventDefault();
    void lookUp(reference, code);
  };
  useEffect(() => {
    if (linked) void lookUp(linked.reference, linked.accessCode);
    // once, for the link the page was opened with
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const active = status?.isOpen;
  return (
    <section className="public-section">
      <h1 tabIndex={-1}>{t('statusTitle')}</h1>
      <p className="lead">{t('statusLead')}</p>
      <form onSubmit={submit} noValidate className="card stack public-form">
        <FormMessages form={form} />
        <TextField id="reference" label={t('reference')} placeholder="AOM-2026-000123" required value={reference} onChange={(ev) => setReference(ev.target.value)} error={form.fields.reference} autoComplete="off" autoCapitalize="characters" spellCheck={false} />
        <TextField id="accessCode" label={t('accessCode')} required value={code} onChange={(ev) => setCode(ev.target.value)} error={form.fields.accessCode} autoComplete="off" spellCheck={false} />
        <button type="submit" className="btn btn-primary btn-block" disabled={pending}>
          {pending ? t('loading') : t('check')}
        </button>
      </form>

      {status && (
        <div className="card status-result" aria-live="polite" data-testid="status-result">
          <p className="mono">{status.reference}</p>
          <h2>{status.title}</h2>
          <div className="badges">
            <StageBadge stage={status.stage} />
            <StatusBadge status={status.status} />
          </div>
          <section className="stage-track" aria-label={t('stage')}>
            <ol>
              {['KNOW', 'CONSULT', 'TRY'].map((s) => (
                <li key={s} className={s === status.stage ? 'current' : undefined} aria-current={s === status.stage ? 'step' : undefined}>
                  {e('Stage', s)}
                </li>
              ))}
            </ol>
          </section>
          <h3>{t('whoIsHelping')}</h3>
          <ul className="helping" data-testid="helping">
            {status.institutions.length === 0 ? <li>{active ? t('deskHelping') : '—'}</li> : status.institutions.map((n) => <li key={n}>{helpingText(n, lang)}</li>)}
          </ul>
          <h3>{t('nextStep')}</h3>
          <p className="next-step">{status.nextStep}</p>
          {status.notes.length > 0 && (
            <>
              <h3>{t('messagesFromDesk')}</h3>
              <ul className="notes">
                {status.notes.map((n, i) => (
                  <li key={i} className="note">
                    <time dateTime={n.createdAt}>{formatDate(n.createdAt, lang)}</time>
                    <p className="note-body">{n.body}</p>
                  </li>
                ))}
              </ul>
            </>
          )}
          <h3>{t('milestones')}</h3>
          <ol className="timeline">
            {status.milestones.map((m, i) => (
              <li key={i} className="tl-item">
                <div className="tl-head">
                  <span className="tl-kind">{m.label || e('EventKind', m.kind)}</span>
                  <time dateTime={m.at}>{formatDateTime(m.at, lang)}</time>
                </div>
              </li>
            ))}
          </ol>
        </div>
      )}
      {!status && <Banner kind="info" />}
    </section>
  );
}
