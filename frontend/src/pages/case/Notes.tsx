import { useState, type FormEvent } from 'react';
import { useApp } from '../../app/context';
import { useMutation } from '../../app/hooks';
import { FormMessages, TextArea, useFormErrors } from '../../components/ui';
import type { CaseFullFragment, NoteVisibility } from '../../gql/graphql';
import { AddNoteDoc } from '../../graphql/ops';
import { formatDateTime } from '../../lib/format';
import type { MsgKey } from '../../lib/i18n';

type Note = CaseFullFragment['notes'][number];

/** `choices` are the visibilities the API says the viewer may write now (none: no form). */
export function Notes({ caseId, notes, choices, onChanged }: { caseId: string; notes: Note[]; choices: readonly NoteVisibility[]; onChanged: () => Promise<unknown> }) {
  const { t, e, lang } = useApp();
  const add = useMutation(AddNoteDoc);
  const form = useFormErrors(['body', 'visibility']);
  // The narrowest audience the viewer may write for: after every note the form
  // returns to it, so sharing wider is a deliberate choice each time.
  const narrowest: NoteVisibility = choices.includes('DESK') ? 'DESK' : (choices[0] ?? 'PARTNERS');
  const [visibility, setVisibility] = useState<NoteVisibility>(narrowest);
  const [body, setBody] = useState('');

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    form.clear();
    if (!body.trim()) {
      form.setField('body', t('fieldMissing', { field: t('noteBody') }));
      return;
    }
    try {
      await add.mutate({ caseId, body: body.trim(), visibility });
      setBody('');
      setVisibility(narrowest);
      form.setSuccess(t('saved'));
      await onChanged();
    } catch (err) {
      form.setError(err);
    }
  };

  return (
    <div>
      {notes.length === 0 ? (
        <p className="empty">{t('noItems')}</p>
      ) : (
        <ul className="notes">
          {[...notes].reverse().map((n) => (
            <li key={n.id} className={`note note-${n.visibility.toLowerCase()}`}>
              <div className="note-head">
                <span className={`badge badge-vis-${n.visibility.toLowerCase()}`}>{e('NoteVisibility', n.visibility)}</span>
                <span>{n.author?.displayName ?? t('system')}</span>
                <time dateTime={n.createdAt}>{formatDateTime(n.createdAt, lang)}</time>
              </div>
              <p className="note-body">{n.body}</p>
            </li>
          ))}
        </ul>
      )}
      {choices.length > 0 && (
        <form onSubmit={submit} className="note-form" noValidate>
          <h3 className="sub-heading">{t('addNote')}</h3>
          <FormMessages form={form} />
          <TextArea id="note-body" label={t('noteBody')} value={body} onChange={(ev) => setBody(ev.target.value)} error={form.fields.body} rows={3} />
          <fieldset className="radio-group">
            <legend>{t('visibility')}</legend>
            {choices.map((v) => (
              <div key={v} className="radio">
                <input type="radio" id={`vis-${v}`} name="visibility" value={v} checked={visibility === v} onChange={() => setVisibility(v)} aria-describedby={`vis-help-${v}`} />
                <label htmlFor={`vis-${v}`}>{e('NoteVisibility', v)}</label>
                <span className="hint" id={`vis-help-${v}`}>
                  {t(`visHelp${v}` as MsgKey)}
                </span>
              </div>
            ))}
          </fieldset>
          <p className={`vis-summary vis-summary-${visibility.toLowerCase()}`} aria-live="polite" data-testid="visibility-summary">
            {t(`visHelp${visibility}` as MsgKey)}
          </p>
          {visibility === 'BUSINESS' && (
            <div className="card public-preview" data-testid="public-preview">
              <p className="small">{t('publicPreviewLead')}</p>
              <p className="preview-body">{body.trim() || t('publicPreviewEmpty')}</p>
            </div>
          )}
          <button type="submit" className="btn btn-primary" disabled={add.pending}>
            {t('addNote')}
          </button>
        </form>
      )}
    </div>
  );
}
