// One business record (desk): details with an edit form, contacts, every case
// across years, the stage path, supporting institutions, consent, history and
// possible duplicates (an admin merges a duplicate into this record).
import { useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { useMutation, useQuery } from '../app/hooks';
import { Link } from '../app/router';
import { Banner, ErrorState, Loading, PageTitle, StageBadge, StatusBadge, TextField } from '../components/ui';
import {
  AddBusinessContactDoc,
  BusinessDoc,
  MergeBusinessesDoc,
  RemoveBusinessContactDoc,
  UpdateBusinessDoc,
} from '../graphql/ops';
import { ApiError } from '../lib/errors';
import { formatDateTime } from '../lib/format';

export function BusinessPage({ id }: { id: string }) {
  const { t, e, lang, user } = useApp();
  const q = useQuery(BusinessDoc, { id });
  const update = useMutation(UpdateBusinessDoc);
  const addContact = useMutation(AddBusinessContactDoc);
  const removeContact = useMutation(RemoveBusinessContactDoc);
  const merge = useMutation(MergeBusinessesDoc);
  const [msg, setMsg] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);

  if (q.loading && !q.data) return <Loading />;
  if (q.error && !q.data) return <ErrorState error={q.error} onRetry={() => void q.reload()} />;
  const b = q.data?.business;
  if (!b) return <PageTitle>{t('notFound')}</PageTitle>;

  const fail = (err: unknown) =>
    setMsg({ kind: 'error', text: err instanceof ApiError ? err.message : String(err) });
  const done = async () => {
    setMsg({ kind: 'success', text: t('bizSaved') });
    await q.reload();
  };

  async function onEdit(ev: FormEvent<HTMLFormElement>) {
    ev.preventDefault();
    const f = new FormData(ev.currentTarget);
    try {
      await update.mutate({
        id,
        expectedVersion: b!.version,
        input: {
          name: String(f.get('name') ?? ''),
          employeeBand: String(f.get('employeeBand') ?? ''),
          website: String(f.get('website') ?? ''),
        },
      });
      await done();
    } catch (err) {
      fail(err);
    }
  }

  async function onAddContact(ev: FormEvent<HTMLFormElement>) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const f = new FormData(form);
    const v = (k: string) => String(f.get(k) ?? '').trim() || null;
    try {
      await addContact.mutate({
        businessId: id,
        input: { name: v('cname'), role: v('crole'), email: v('cemail'), phone: v('cphone') },
      });
      form.reset();
      await done();
    } catch (err) {
      fail(err);
    }
  }

  return (
    <section>
      <PageTitle>{b.name}</PageTitle>
      {msg && <Banner kind={msg.kind}>{msg.text}</Banner>}
      {b.previouslyErased && <Banner kind="info">{t('bizPreviouslyErased')}</Banner>}
      <div className="case-grid">
        <div className="case-main">
          <section className="card" aria-labelledby="biz-cases">
            <h2 id="biz-cases">{t('bizCases')}</h2>
            <ul className="plain-list">
              {b.cases.map((c) => (
                <li key={c.id}>
                  <Link href={`/cases/${c.id}`}>
                    <span className="mono">{c.reference}</span> {c.title}
                  </Link>{' '}
                  <StageBadge stage={c.stage} /> <StatusBadge status={c.status} />{' '}
                  <small>{formatDateTime(c.createdAt, lang)}</small>
                </li>
              ))}
            </ul>
          </section>
          <section className="card" aria-labelledby="biz-path">
            <h2 id="biz-path">{t('bizStagePath')}</h2>
            <ol>
              {b.stagePath.map((s, i) => (
                <li key={i}>
                  <small>{formatDateTime(s.at, lang)}</small> <StageBadge stage={s.stage} />{' '}
                  <span className="mono">{s.reference}</span>
                </li>
              ))}
            </ol>
          </section>
          <section className="card" aria-labelledby="biz-history">
            <h2 id="biz-history">{t('bizHistory')}</h2>
            <ul className="plain-list">
              {b.history.map((h, i) => (
                <li key={i}>
                  <small>{formatDateTime(h.at, lang)}</small> {e('BusinessHistoryKind', h.kind)} {h.fields.map((f) => e('BusinessField', f)).join(t('listSep'))}{' '}
                  {h.actor?.displayName ?? ''}
                </li>
              ))}
            </ul>
          </section>
        </div>
        <aside className="case-side">
          <section className="card" aria-labelledby="biz-details">
            <h2 id="biz-details">{t('bizEdit')}</h2>
            <dl className="kv">
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
              <dt>{t('bizConsent')}</dt>
              <dd>
                {t('bizConsentCounts', { yes: b.consent.casesWithConsent, no: b.consent.casesWithoutConsent })}
              </dd>
              <dt>{t('bizInstitutions')}</dt>
              <dd>{b.supportingInstitutions.map((i) => i.name).join(t('listSep')) || t('bizNone')}</dd>
            </dl>
            <form onSubmit={(ev) => void onEdit(ev)} key={`edit-${b.version}`}>
              <TextField id="biz-name" name="name" label={t('businessName')} defaultValue={b.name} required />
              <TextField id="biz-band" name="employeeBand" label={t('bizEmployeeBand')} defaultValue={b.employeeBand ?? ''} hint="1-5 / 6-20 / 21-50 / 51-100 / 101-300 / 301+" />
              <TextField id="biz-web" name="website" label={t('bizWebsite')} defaultValue={b.website ?? ''} />
              <button type="submit" disabled={update.pending}>{t('bizSave')}</button>
            </form>
          </section>
          <section className="card" aria-labelledby="biz-contacts">
            <h2 id="biz-contacts">{t('bizContacts')}</h2>
            <ul className="plain-list">
              {b.contacts.map((c) => (
                <li key={c.id}>
                  {c.name} {c.role && <small>（{c.role}）</small>} {c.primary && <strong>{t('bizPrimary')}</strong>}
                  <br />
                  <small>{[c.email, c.phone].filter(Boolean).join(' / ')}</small>{' '}
                  <button
                    type="button"
                    className="link"
                    onClick={() => void removeContact.mutate({ id: c.id }).then(done, fail)}
                  >
                    {t('bizRemove')}
                  </button>
                </li>
              ))}
            </ul>
            <form onSubmit={(ev) => void onAddContact(ev)}>
              <TextField id="c-name" name="cname" label={t('contactName')} />
              <TextField id="c-role" name="crole" label={t('bizRole')} />
              <TextField id="c-email" name="cemail" label={t('email')} type="email" />
              <TextField id="c-phone" name="cphone" label={t('phone')} type="tel" />
              <button type="submit" disabled={addContact.pending}>{t('bizAddContact')}</button>
            </form>
          </section>
          <section className="card" aria-labelledby="biz-dups">
            <h2 id="biz-dups">{t('bizDuplicates')}</h2>
            {b.duplicateCandidates.length === 0 && <p>{t('bizNone')}</p>}
            <ul className="plain-list">
              {b.duplicateCandidates.map((d) => (
                <li key={d.business.id}>
                  <Link href={`/businesses/${d.business.id}`}>{d.business.name}</Link>{' '}
                  <small>{d.reasonLabels.join('・')}</small>{' '}
                  {user?.role === 'ADMIN' && (
                    <button
                      type="button"
                      onClick={() => void merge.mutate({ keepId: id, mergeId: d.business.id }).then(done, fail)}
                    >
                      {t('bizMergeInto')}
                    </button>
                  )}
                </li>
              ))}
            </ul>
          </section>
        </aside>
      </div>
    </section>
  );
}
