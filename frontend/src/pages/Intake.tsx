import { useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { useMutation, useQuery } from '../app/hooks';
import { Link } from '../app/router';
import { BusinessFields, emptyBusiness, toBusinessInput, validateBusiness, type BusinessDraft } from '../components/BusinessFields';
import { AccessHandoff } from '../components/AccessHandoff';
import { ConsentBox } from '../components/ConsentBox';
import { Banner, FormMessages, PageTitle, SelectField, TextArea, TextField, useEnumOptions, useFormErrors } from '../components/ui';
import type { BusinessesQuery, Channel, Priority, Stage } from '../gql/graphql';
import { BusinessesDoc, LabDoc, OpenCaseDoc } from '../graphql/ops';
import { enumValues } from '../lib/i18n';
import { parseTopics } from '../lib/validate';

type Found = BusinessesQuery['businesses'][number];

const FIELDS = ['name', 'corporateNumber', 'industry', 'municipality', 'contactName', 'email', 'phone', 'title', 'description', 'topics', 'channel', 'stage', 'consentToShare', 'businessId', 'business'];

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

export function IntakePage() {
  const { t, lang } = useApp();
  const lab = useQuery(LabDoc, {});
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
  const [done, setDone] = useState<{ id: string; reference: string; accessCode: string } | null>(null);

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
        },
      });
      setDone({ id: d.openCase.case.id, reference: d.openCase.case.reference, accessCode: d.openCase.accessCode });
    } catch (err) {
      form.setError(err);
    }
  };

  if (done) {
    return (
      <section>
        <PageTitle>{t('caseOpened')}</PageTitle>
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
              <button type="button" className="btn btn-secondary btn-small" onClick={() => setPicked(null)}>
                {t('changeBusiness')}
              </button>
            </div>
          ) : (
            <>
              <BusinessFinder onPick={setPicked} />
              <h3 className="sub-heading">{t('newBusiness')}</h3>
              <BusinessFields value={biz} onChange={setBiz} errors={form.fields} regions={lab.data?.lab.regions ?? []} idPrefix="biz" />
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
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={open.pending}>
            {open.pending ? t('loading') : t('openCase')}
          </button>
        </div>
      </form>
    </section>
  );
}
