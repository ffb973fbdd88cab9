// Partner actions on a referral to their institution: accept, decline with a reason, complete.
import { useState, type FormEvent } from 'react';
import { useApp } from '../../app/context';
import { useMutation } from '../../app/hooks';
import { FormMessages, SelectField, TextArea, TextField, useEnumOptions, useFormErrors } from '../../components/ui';
import type { DeclineReason } from '../../gql/graphql';
import { AcceptDoc, CompleteDoc, DeclineDoc } from '../../graphql/ops';
import { enumValues } from '../../lib/i18n';

export function ReferralActions({ referral, onDone, idPrefix }: { referral: { id: string; status: string }; onDone: () => Promise<unknown> | void; idPrefix: string }) {
  const { t } = useApp();
  const accept = useMutation(AcceptDoc);
  const decline = useMutation(DeclineDoc);
  const complete = useMutation(CompleteDoc);
  const form = useFormErrors(['note', 'reason', 'summary']);
  const reasonOpts = useEnumOptions('DeclineReason', enumValues('DeclineReason'));
  const [mode, setMode] = useState<'none' | 'decline'>('none');
  const [note, setNote] = useState('');
  const [reason, setReason] = useState<DeclineReason | ''>('');
  const [summary, setSummary] = useState('');
  const busy = accept.pending || decline.pending || complete.pending;

  const run = async (fn: () => Promise<unknown>) => {
    form.clear();
    try {
      await fn();
      form.setSuccess(t('saved'));
      setNote('');
      setSummary('');
      setMode('none');
      await onDone();
    } catch (err) {
      form.setError(err);
    }
  };

  if (referral.status === 'PENDING') {
    return (
      <div className="ref-actions">
        <FormMessages form={form} />
        {mode === 'none' ? (
          <>
            <TextField id={`${idPrefix}-accept-note`} label={t('noteOptional')} value={note} onChange={(e) => setNote(e.target.value)} error={form.fields.note} />
            <div className="btn-row">
              <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void run(() => accept.mutate({ referralId: referral.id, note: note.trim() || null }))}>
                {t('accept')}
              </button>
              <button type="button" className="btn btn-secondary" disabled={busy} onClick={() => setMode('decline')}>
                {t('decline')}…
              </button>
            </div>
          </>
        ) : (
          <form
            onSubmit={(ev: FormEvent) => {
              ev.preventDefault();
              if (!reason) {
                form.setField('reason', t('fieldChoose', { field: t('declineReason') }));
                return;
              }
              void run(() => decline.mutate({ referralId: referral.id, reason, note: note.trim() || null }));
            }}
            noValidate
          >
            <SelectField id={`${idPrefix}-reason`} label={t('declineReason')} required value={reason} onChange={(e) => setReason(e.target.value as DeclineReason)} options={reasonOpts} empty="—" error={form.fields.reason} />
            <TextArea id={`${idPrefix}-decline-note`} label={t('noteOptional')} value={note} onChange={(e) => setNote(e.target.value)} rows={2} error={form.fields.note} />
            <div className="btn-row">
              <button type="submit" className="btn btn-danger" disabled={busy}>
                {t('decline')}
              </button>
              <button type="button" className="btn btn-secondary" onClick={() => setMode('none')}>
                {t('cancel')}
              </button>
            </div>
          </form>
        )}
      </div>
    );
  }
  if (referral.status === 'ACCEPTED') {
    return (
      <form
        className="ref-actions"
        noValidate
        onSubmit={(ev: FormEvent) => {
          ev.preventDefault();
          if (!summary.trim()) {
            form.setField('summary', t('fieldMissing', { field: t('completeSummary') }));
            return;
          }
          void run(() => complete.mutate({ referralId: referral.id, summary: summary.trim() }));
        }}
      >
        <FormMessages form={form} />
        <TextArea id={`${idPrefix}-summary`} label={t('completeSummary')} required value={summary} onChange={(e) => setSummary(e.target.value)} rows={3} error={form.fields.summary} />
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {t('complete')}
        </button>
      </form>
    );
  }
  return <FormMessages form={form} />;
}
