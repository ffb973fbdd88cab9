// For businesses, no login: the consultation request form (submitConsultation).
import { useRef, useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { useQuery } from '../app/hooks';
import { BusinessFields, emptyBusiness, toBusinessInput, validateBusiness, type BusinessDraft } from '../components/BusinessFields';
import { AccessHandoff } from '../components/AccessHandoff';
import { ConsentBox } from '../components/ConsentBox';
import { FormMessages, Loading, SelectField, TextArea, useEnumOptions, useFormErrors } from '../components/ui';
import type { Stage } from '../gql/graphql';
import { PublicLabsDoc, SubmitConsultationDoc } from '../graphql/ops';
import { enumValues } from '../lib/i18n';
import { ActionKey } from '../lib/idempotency';
import { statusLink } from '../lib/statusLink';

const FIELDS = ['name', 'corporateNumber', 'industry', 'municipality', 'contactName', 'email', 'phone', 'description', 'stage', 'consentToShare', 'labCode'];

export function ConsultPage() {
  const { t, lang, client } = useApp();
  const labs = useQuery(PublicLabsDoc, {}, { anonymous: true });
  const form = useFormErrors(FIELDS);
  const stageOpts = useEnumOptions('Stage', enumValues('Stage'));
  const [labCode, setLabCode] = useState('');
  const [biz, setBiz] = useState<BusinessDraft>(emptyBusiness);
  const [description, setDescription] = useState('');
  const [stage, setStage] = useState<Stage | ''>('');
  const [consent, setConsent] = useState(false);
  const [website, setWebsite] = useState('');
  const [pending, setPending] = useState(false);
  const [done, setDone] = useState<{ reference: string; accessCode: string } | null>(null);
  // One Idempotency-Key per submission, reused when it is retried after a network error.
  const action = useRef(new ActionKey());

  const labList = labs.data?.publicLabs ?? [];
  const lab = labList.find((l) => l.code === labCode) ?? (labList.length === 1 ? labList[0] : null);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    form.clear();
    const errs = validateBusiness(biz, lang, t, { contactRequired: true });
    if (!description.trim()) errs.description = t('fieldMissing', { field: t('description') });
    if (!consent) errs.consentToShare = t('consentRequired');
    if (Object.keys(errs).length) {
      for (const [f, m] of Object.entries(errs)) form.setField(f, m);
      return;
    }
    setPending(true);
    try {
      const variables = {
        input: {
          business: toBusinessInput(biz),
          description: description.trim(),
          stage: stage || null,
          consentToShare: consent,
          website: website || null,
          labCode: lab?.code ?? null,
        },
      };
      const d = await action.current.run(variables, (idempotencyKey) =>
        client.request(SubmitConsultationDoc, variables, { anonymous: true, idempotencyKey }),
      );
      setDone(d.submitConsultation);
    } catch (err) {
      form.setError(err);
    } finally {
      setPending(false);
    }
  };

  if (done) {
    return (
      <section className="public-section">
        <h1 tabIndex={-1}>{t('submitted')}</h1>
        <AccessHandoff reference={done.reference} accessCode={done.accessCode} contact={lab ? [lab.displayName, lab.contactLine].filter(Boolean).join(' ') : null} testPrefix="submitted" />
        <p className="no-print">
          <a href={statusLink(done.reference, done.accessCode)} className="btn btn-primary">
            {t('checkStatusNow')}
          </a>
        </p>
      </section>
    );
  }

  return (
    <section className="public-section">
      <h1 tabIndex={-1}>{t('consultTitle')}</h1>
      <p className="lead">{t('consultLead')}</p>
      {lab && (
        <p className="muted" data-testid="consult-lab">
          {lab.displayName}
          {lab.contactLine && ` · ${t('deskContact')}: ${lab.contactLine}`}
        </p>
      )}
      <FormMessages form={form} />
      <form onSubmit={submit} noValidate className="stack public-form">
        {labs.loading && <Loading />}
        {labList.length > 1 && (
          <div className="card">
            <SelectField id="labCode" label={t('labChoice')} value={labCode} onChange={(ev) => setLabCode(ev.target.value)} options={labList.map((l) => ({ value: l.code, label: l.displayName }))} empty="—" error={form.fields.labCode} />
          </div>
        )}
        <fieldset className="card">
          <legend>{t('yourBusiness')}</legend>
          <BusinessFields value={biz} onChange={setBiz} errors={form.fields} regions={lab?.regions ?? labList.flatMap((l) => l.regions)} idPrefix="c" contactRequired />
        </fieldset>
        <fieldset className="card">
          <legend>{t('yourConsultation')}</legend>
          <TextArea id="description" label={t('description')} required value={description} onChange={(ev) => setDescription(ev.target.value)} error={form.fields.description} rows={6} />
          <SelectField id="stage" label={t('stageQuestion')} value={stage} onChange={(ev) => setStage(ev.target.value as Stage)} options={stageOpts} empty="—" error={form.fields.stage} />
        </fieldset>
        {/* honeypot: hidden from people (CSS class, not inline style) and from assistive tech */}
        <div className="hp" aria-hidden="true">
          <label htmlFor="website">{t('website')}</label>
          <input id="website" name="website" tabIndex={-1} autoComplete="off" value={website} onChange={(ev) => setWebsite(ev.target.value)} />
        </div>
        <ConsentBox id="consentToShare" checked={consent} onChange={setConsent} label={t('consentAgree')} error={form.fields.consentToShare} />
        <button type="submit" className="btn btn-primary btn-block" disabled={pending}>
          {pending ? t('loading') : t('submit')}
        </button>
      </form>
    </section>
  );
}
