// Secretariat: the lab's settings — pick-up days, extra closure days, the
// escalation repeat interval, the name and contact line of the public pages.
import { useEffect, useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { useMutation, useQuery } from '../app/hooks';
import { ErrorState, FormMessages, Loading, PageTitle, TextArea, TextField, useFormErrors } from '../components/ui';
import { LabSettingsDoc, UpdateLabSettingsDoc } from '../graphql/ops';

export function LabSettingsPage() {
  const { t } = useApp();
  const q = useQuery(LabSettingsDoc, {});
  const save = useMutation(UpdateLabSettingsDoc);
  const form = useFormErrors(['pickupDays', 'closureDays', 'escalationRepeatDays', 'displayName', 'contactLine']);
  const [draft, setDraft] = useState({ pickupDays: '3', closureDays: '', escalationRepeatDays: '1', displayName: '', contactLine: '' });

  useEffect(() => {
    const s = q.data?.labSettings;
    if (s) {
      setDraft({
        pickupDays: String(s.pickupDays),
        closureDays: s.closureDays.join('\n'),
        escalationRepeatDays: String(s.escalationRepeatDays),
        displayName: s.displayName,
        contactLine: s.contactLine,
      });
    }
  }, [q.data]);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    form.clear();
    try {
      await save.mutate({
        input: {
          pickupDays: Number(draft.pickupDays),
          closureDays: draft.closureDays.split(/\s+/).map((s) => s.trim()).filter(Boolean),
          escalationRepeatDays: Number(draft.escalationRepeatDays),
          displayName: draft.displayName,
          contactLine: draft.contactLine,
        },
      });
      form.setSuccess(t('saved'));
      await q.reload();
    } catch (err) {
      form.setError(err);
    }
  };

  return (
    <section>
      <PageTitle>{t('labSettingsTitle')}</PageTitle>
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}
      {q.loading && !q.data && <Loading />}
      <form className="card stack" onSubmit={submit} noValidate>
        <FormMessages form={form} />
        <div className="grid-2">
          <TextField id="s-pickup" label={t('pickupDays')} type="number" min={1} max={30} required value={draft.pickupDays} onChange={(e) => setDraft({ ...draft, pickupDays: e.target.value })} error={form.fields.pickupDays} />
          <TextField id="s-escalation" label={t('escalationRepeatDays')} type="number" min={1} max={30} required value={draft.escalationRepeatDays} onChange={(e) => setDraft({ ...draft, escalationRepeatDays: e.target.value })} error={form.fields.escalationRepeatDays} />
          <TextField id="s-name" label={t('labDisplayName')} required value={draft.displayName} onChange={(e) => setDraft({ ...draft, displayName: e.target.value })} error={form.fields.displayName} />
          <TextField id="s-contact" label={t('contactLine')} value={draft.contactLine} onChange={(e) => setDraft({ ...draft, contactLine: e.target.value })} error={form.fields.contactLine} />
        </div>
        <TextArea id="s-closures" label={t('closureDays')} hint={t('closureDaysHelp')} value={draft.closureDays} onChange={(e) => setDraft({ ...draft, closureDays: e.target.value })} error={form.fields.closureDays} />
        <button type="submit" className="btn btn-primary" disabled={save.pending}>
          {t('save')}
        </button>
      </form>
    </section>
  );
}
