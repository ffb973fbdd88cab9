import { useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { useMutation, useQuery } from '../app/hooks';
import { Link } from '../app/router';
import { BusinessFields, emptyBusiness, toBusinessInput, validateBusiness, type BusinessDraft } from '../components/BusinessFields';
import { AccessHandoff } from '../components/AccessHandoff';
import { ConsentBox } from '../components/ConsentBox';
import { Banner, FormMessages, PageTitle, SelectField, TableScroll, TextArea, TextField, useEnumOptions, useFormErrors } from '../components/ui';
import type { BusinessIntakeCheckQuery, BusinessesQuery, Channel, Priority, Stage } from '../gql/graphql';

type ContactOffer = { name?: string | null; email?: string | null; phone?: string | null };
import { AddBusinessContactDoc, BusinessIntakeCheckDoc, BusinessesDoc, LabDoc, OpenCaseDoc } from '../graphql/ops';
import type { MsgKey } from '../lib/i18n';
import { enumValues } from '../lib/i18n';
import { parseTopics } from '../lib/validate';

type Found = BusinessesQuery['businesses'][number];

const FIELDS = ['name', 'corporateNumber', 'industry', 'municipality', 'contactName', 'email', 'phone', 'title', 'description', 'topics', 'channel', 'stage', 'consentToShare', 'emailUpdates', 'businessId', 'business'];

function BusinessFinder({ onPick }: { onPick: (b: Found) => void }) {
  const { t, client, e } = useApp();
  const [term, setTerm] = useState('');
  const [results, setResults] = useState<Found[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const search = async () => {
    if (!term.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const d = await client.request(BusinessesDoc, { search: term.trim(), first: 10 });
      setResults(d.businesses);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="finder">
      <div className="inline-form">
        <TextField
          id="business-search"
          label={t('findBusiness')}
          hint={t('findBusinessHint')}
          type="search"
          value={term}
          onChange={(ev) => setTerm(ev.target.value)}
          onKeyDown={(ev) => {
            if (ev.key === 'Enter') {
              ev.preventDefault();
              void search();
            }
          }}
        />
        <button type="button" className="btn btn-secondary" onClick={() => void search()} disabled={busy}>
          {t('search')}
        </button>
      </div>
      <Banner kind="error">{error}</Banner>
      {busy && <p role="status">{t('loading')}</p>}
      {results && (
        <div aria-live="polite">
          {results.length === 0 ? (
            <p className="empty">{t('noItems')}</p>
          ) : (
            <ul className="pick-list">
              {results.map((b) => (
                <li key={b.id}>
                  <div>
                    <strong>{b.name}</strong>
                    <span className="muted">
                      {' '}
                      {b.corporateNumber ?? ''} {b.municipality ?? ''} {b.industry ? e('Industry', b.industry) : ''}
                    </span>
                  </div>
                  <button type="button" className="btn btn-secondary btn-small" onClick={() => onPick(b)} aria-label={`${t('useThisBusiness')}: ${b.name}`}>
                    {t('useThisBusiness')}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}

type Check = BusinessIntakeCheckQuery['businessIntakeCheck'];
const DIFF_LABEL: Record<string, MsgKey> = { name: 'businessName', industry: 'industry', municipality: 'municipality', contactName: 'contactName', email: 'email', phone: 'phone' };

/** The API's comparison of the typed business with the lab's records; the concierge chooses. */
function IntakeCheckPanel({ check, addContact, setAddContact, onUse }: { check: Check; addContact: boolean; setAddContact: (v: boolean) => void; onUse: (b: Found) => void }) {
  const { t } = useApp();
  const ex = check.existing;
  return (
    <div className="card intake-check" data-testid="intake-check" aria-live="polite">
      {ex ? (
        <>
          <p>
            <strong>{t('intakeExisting')}</strong>: <span data-testid="intake-existing">{ex.name}</span> {ex.corporateNumber ?? ''} {ex.municipality ?? ''}
          </p>
          {check.differences.length === 0 ? (
            <p className="muted">{t('intakeNoDiff')}</p>
          ) : (
            <TableScroll label={t('intakeDiffers')}>
              <table className="table compact-table" data-testid="intake-differences">
                <caption>{t('intakeDiffers')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('intakeField')}</th>
                    <th scope="col">{t('intakeRegistered')}</th>
                    <th scope="col">{t('intakeTyped')}</th>
                  </tr>
                </thead>
                <tbody>
                  {check.differences.map((d) => (
                    <tr key={d.field}>
                      <th scope="row">{DIFF_LABEL[d.field] ? t(DIFF_LABEL[d.field]) : d.field}</th>
                      <td>{d.existing ?? '—'}</td>
                      <td>{d.proposed ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
          )}
          {check.newContact && (
            <div className="field field-check">
              <input id="intake-add-contact" type="checkbox" checked={addContact} onChange={(e) => setAddContact(e.target.checked)} />
              <label htmlFor="intake-add-contact">
                {t('intakeAddContact')}: {[check.newContact.name, check.newContact.email, check.newContact.phone].filter(Boolean).join(' / ')}
              </label>
            </div>
          )}
          <button type="button" className="btn btn-primary" data-testid="intake-use-existing" onClick={() => onUse(ex as Found)}>
            {t('intakeUseExisting')}
          </button>
        </>
      ) : check.duplicates.length === 0 ? (
        <p className="muted">{t('intakeNoMatch')}</p>
      ) : null}
      {check.duplicates.length > 0 && (
        <>
          <h3 className="sub-heading">{t('intakeLookAlikes')}</h3>
          <ul className="pick-list">
            {check.duplicates.map((d) => (
              <li key={d.business.id}>
                <div>
                  <strong>{d.business.name}</strong> <span className="muted">{d.business.municipality ?? ''}</span> <small>{d.reasonLabels.join(t('listSep'))}</small>
                </div>
                <button type="button" className="btn btn-secondary btn-small" onClick={() => onUse(d.business as Found)} aria-label={`${t('useThisBusiness')}: ${d.business.name}`}>
                  {t('useThisBusiness')}
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

export function IntakePage() {
  const { t, lang, client } = useApp();
  const lab = useQuery(LabDoc, {});
  const addContactM = useMutation(AddBusinessContactDoc);
  const [check, setCheck] = useState<Check | null>(null);
  const [addContact, setAddContact] = useState(true);
  const [offer, setOffer] = useState<ContactOffer | null>(null);
  const [offerNote, setOfferNote] = useState<string | null>(null);
  const runCheck = async () => {
    form.clear();
    try {
      const d = await client.request(BusinessIntakeCheckDoc, { input: toBusinessInput(biz) });
      setCheck(d.businessIntakeCheck);
    } catch (err) {
      form.setError(err);
    }
  };
  const open = useMutation(OpenCaseDoc, { idempotent: true });
  const form = useFormErrors(FIELDS);
  const channelOpts = useEnumOptions('Channel', enumValues('Channel'));
  const stageOpts = useEnumOptions('Stage', enumValues('Stage'));
  const priorityOpts = useEnumOptions('Priority', enumValues('Priority'));

  const [picked, setPicked] = useState<Found | null>(null);
  const [biz, setBiz] = useState<BusinessDraft>(emptyBusiness);
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [topics, setTopics] = useState('');
  const [channel, setChannel] = useState<Channel>('WALK_IN');
  const [stage, setStage] = useState<Stage>('CONSULT');
  const [priority, setPriority] = useState<Priority>('NORMAL');
  const [consent, setConsent] = useState(false);
  const [emailUpdates, setEmailUpdates] = useState(false);
  const [done, setDone] = useState<{ id: string; reference: string; accessCode: string; businessId: string; offered: ContactOffer | null } | null>(null);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    form.clear();
    let bad = false;
    if (!picked) {
      const errs = validateBusiness(biz, lang, t);
      for (const [f, m] of Object.entries(errs)) {
        form.setField(f, m);
        bad = true;
      }
    }
    if (!title.trim()) {
      form.setField('title', t('fieldMissing', { field: t('title') }));
      bad = true;
    }
    if (!description.trim()) {
      form.setField('description', t('fieldMissing', { field: t('description') }));
      bad = true;
    }
    if (bad) return;
    try {
      const d = await open.mutate({
        input: {
          ...(picked ? { businessId: picked.id } : { business: toBusinessInput(biz) }),
          title: title.trim(),
          description: description.trim(),
          topics: parseTopics(topics),
          channel,
          stage,
          priority,
          consentToShare: consent,
          emailUpdates,
        },
      });
      const bizId = d.openCase.case.business.id;
      // The concierge chose to add the typed contact to the business on record.
      if (picked && offer && addContact) {
        await addContactM.mutate({ businessId: bizId, input: { name: offer.name ?? null, email: offer.email ?? null, phone: offer.phone ?? null } });
        setOfferNote(t('intakeContactAdded'));
      }
      setDone({ id: d.openCase.case.id, reference: d.openCase.case.reference, accessCode: d.openCase.accessCode, businessId: bizId, offered: d.openCase.offeredContact ?? null });
    } catch (err) {
      form.setError(err);
    }
  };

  if (done) {
    return (
      <section>
        <PageTitle>{t('caseOpened')}</PageTitle>
        {offerNote && <Banner kind="success">{offerNote}</Banner>}
        {done.offered && !offerNote && (
          <div className="card" data-testid="offered-contact">
            <p>{t('intakeOffered')}</p>
            <p>{[done.offered.name, done.offered.email, done.offered.phone].filter(Boolean).join(' / ')}</p>
            <button
              type="button"
              className="btn btn-secondary"
              disabled={addContactM.pending}
              onClick={() =>
                void addContactM
                  .mutate({ businessId: done.businessId, input: { name: done.offered!.name ?? null, email: done.offered!.email ?? null, phone: done.offered!.phone ?? null } })
                  .then(() => setOfferNote(t('intakeContactAdded')))
                  .catch((err) => form.setError(err))
              }
            >
              {t('intakeAddContact')}
            </button>
          </div>
        )}
        <AccessHandoff reference={done.reference} accessCode={done.accessCode} testPrefix="new" />
        <p className="no-print">
          <Link href={`/cases/${done.id}`} className="btn btn-primary">
            {t('goToCase')}
          </Link>
        </p>
      </section>
    );
  }

  return (
    <section>
      <PageTitle>{t('intakeTitle')}</PageTitle>
      <FormMessages form={form} />
      <form onSubmit={submit} noValidate className="stack">
        <fieldset className="card">
          <legend>{t('business')}</legend>
          {picked ? (
            <div className="picked">
              <p>
                {t('selectedBusiness')}: <strong data-testid="picked-business">{picked.name}</strong> {picked.corporateNumber ?? ''}
              </p>
              <button type="button" className="btn btn-secondary btn-small" onClick={() => {
                  setPicked(null);
                  setOffer(null);
                }}>
                {t('changeBusiness')}
              </button>
            </div>
          ) : (
            <>
              <BusinessFinder onPick={setPicked} />
              <h3 className="sub-heading">{t('newBusiness')}</h3>
              <BusinessFields value={biz} onChange={setBiz} errors={form.fields} regions={lab.data?.lab.regions ?? []} idPrefix="biz" />
              <p className="hint">{t('intakeCheckHint')}</p>
              <button type="button" className="btn btn-secondary" data-testid="intake-check-run" onClick={() => void runCheck()} disabled={!biz.name.trim() && !biz.corporateNumber.trim()}>
                {t('intakeCheck')}
              </button>
              {check && (
                <IntakeCheckPanel
                  check={check}
                  addContact={addContact}
                  setAddContact={setAddContact}
                  onUse={(b) => {
                    setPicked(b);
                    setOffer(b.id === check.existing?.id ? (check.newContact ?? null) : null);
                  }}
                />
              )}
            </>
          )}
        </fieldset>
        <fieldset className="card">
          <legend>{t('caseDetails')}</legend>
          <TextField id="title" label={t('title')} required value={title} onChange={(e) => setTitle(e.target.value)} error={form.fields.title} maxLength={200} />
          <TextArea id="description" label={t('description')} required value={description} onChange={(e) => setDescription(e.target.value)} error={form.fields.description} rows={6} />
          <TextField id="topics" label={t('topics')} hint={t('topicsHint')} value={topics} onChange={(e) => setTopics(e.target.value)} error={form.fields.topics} />
          <div className="grid-3">
            <SelectField id="channel" label={t('channel')} required value={channel} onChange={(e) => setChannel(e.target.value as Channel)} options={channelOpts} error={form.fields.channel} />
            <SelectField id="stage" label={t('stage')} required value={stage} onChange={(e) => setStage(e.target.value as Stage)} options={stageOpts} error={form.fields.stage} />
            <SelectField id="priority" label={t('priority')} value={priority} onChange={(e) => setPriority(e.target.value as Priority)} options={priorityOpts} />
          </div>
        </fieldset>
        <ConsentBox id="consentToShare" checked={consent} onChange={setConsent} label={t('consentLabel')} error={form.fields.consentToShare} staffHint />
        <div className={form.fields.emailUpdates ? 'card field-invalid' : 'card'}>
          <div className="field-check">
            <input id="emailUpdates" type="checkbox" checked={emailUpdates} onChange={(e) => setEmailUpdates(e.target.checked)} aria-describedby="emailUpdates-hint emailUpdates-err" aria-invalid={form.fields.emailUpdates ? true : undefined} />
            <label htmlFor="emailUpdates">{t('emailUpdatesLabel')}</label>
          </div>
          <p className="hint" id="emailUpdates-hint">
            {t('emailUpdatesHint')}
          </p>
          <p className="field-error" id="emailUpdates-err" aria-live="polite">
            {form.fields.emailUpdates ?? ''}
          </p>
        </div>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={open.pending}>
            {open.pending ? t('loading') : t('openCase')}
          </button>
        </div>
      </form>
    </section>
  );
}
