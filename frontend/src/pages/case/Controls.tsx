// Desk controls of a case: edit, stage, status, resolve, reopen, close, new access code.
// Every versioned write sends the version the user saw (expectedVersion).
import { useState, type FormEvent } from 'react';
import { useApp } from '../../app/context';
import { useMutation } from '../../app/hooks';
import { ActionDetails, SelectField, TextArea, TextField, useEnumOptions, type Panels } from '../../components/ui';
import type { CaseFullFragment, CaseStatus, Outcome, Stage } from '../../gql/graphql';
import { AccessHandoff } from '../../components/AccessHandoff';
import { CloseDoc, ReopenDoc, ResolveDoc, RotateDoc, SetStageDoc, SetStatusDoc, UpdateCaseDoc } from '../../graphql/ops';
import { enumValues } from '../../lib/i18n';
import { parseTopics } from '../../lib/validate';

type Case = CaseFullFragment;

export type WriteResult = 'ok' | 'stale' | 'error';
export type Versioned = (write: (expectedVersion: number) => Promise<unknown>, fields: readonly string[]) => Promise<WriteResult>;
export type Plain = (write: () => Promise<unknown>) => Promise<WriteResult>;

export function StageStatusControls({ c, versioned, panels }: { c: Case; versioned: Versioned; panels: Panels }) {
  const { t } = useApp();
  const setStageM = useMutation(SetStageDoc);
  const setStatusM = useMutation(SetStatusDoc);
  const stageOpts = useEnumOptions('Stage', enumValues('Stage'));
  const nextStatuses = c.allowedStatuses;
  const statusOpts = useEnumOptions('CaseStatus', nextStatuses);
  const [stage, setStage] = useState<Stage>(c.stage);
  const [stageNote, setStageNote] = useState('');
  const [status, setStatus] = useState<CaseStatus | ''>('');
  const [statusNote, setStatusNote] = useState('');
  const closed = !c.isOpen;

  return (
    <div className="grid-2">
      <ActionDetails name="stage" summary={t('changeStage')} panels={panels}>
        <form
          onSubmit={async (ev: FormEvent) => {
            ev.preventDefault();
            const ok = await versioned((v) => setStageM.mutate({ caseId: c.id, expectedVersion: v, stage, note: stageNote.trim() || null }), ['stage', 'note']);
            if (ok === 'ok') {
              setStageNote('');
              panels.set('stage', false);
            }
          }}
        >
          <SelectField id="stage-select" label={t('stage')} value={stage} onChange={(e) => setStage(e.target.value as Stage)} options={stageOpts} disabled={closed} />
          <TextField id="stage-note" label={t('noteOptional')} value={stageNote} onChange={(e) => setStageNote(e.target.value)} disabled={closed} />
          <button type="submit" className="btn btn-primary" disabled={closed || stage === c.stage || setStageM.pending}>
            {t('apply')}
          </button>
        </form>
      </ActionDetails>
      <ActionDetails name="status" summary={t('changeStatus')} panels={panels}>
        <form
          onSubmit={async (ev: FormEvent) => {
            ev.preventDefault();
            if (!status) return;
            const ok = await versioned((v) => setStatusM.mutate({ caseId: c.id, expectedVersion: v, status, note: statusNote.trim() || null }), ['status', 'note']);
            if (ok === 'ok') {
              setStatus('');
              setStatusNote('');
              panels.set('status', false);
            }
          }}
        >
          <SelectField id="status-select" label={t('status')} value={status} onChange={(e) => setStatus(e.target.value as CaseStatus)} options={statusOpts} empty="—" disabled={nextStatuses.length === 0} />
          <TextField id="status-note" label={t('noteOptional')} value={statusNote} onChange={(e) => setStatusNote(e.target.value)} disabled={nextStatuses.length === 0} />
          <button type="submit" className="btn btn-primary" disabled={!status || setStatusM.pending}>
            {t('apply')}
          </button>
        </form>
      </ActionDetails>
    </div>
  );
}

export function EditCase({ c, versioned }: { c: Case; versioned: Versioned }) {
  const { t } = useApp();
  const update = useMutation(UpdateCaseDoc);
  const [open, setOpen] = useState(false);
  const [title, setTitle] = useState(c.title);
  const [description, setDescription] = useState(c.description);
  const [topics, setTopics] = useState(c.topics.join(', '));
  const [emailUpdates, setEmailUpdates] = useState(c.emailUpdates);
  if (!open) {
    return (
      <button
        type="button"
        className="btn btn-secondary btn-small"
        onClick={() => {
          setTitle(c.title);
          setDescription(c.description);
          setTopics(c.topics.join(', '));
          setEmailUpdates(c.emailUpdates);
          setOpen(true);
        }}
      >
        {t('editCase')}
      </button>
    );
  }
  return (
    <form
      className="control-box"
      onSubmit={async (ev: FormEvent) => {
        ev.preventDefault();
        const ok = await versioned(
          (v) => update.mutate({ id: c.id, expectedVersion: v, input: { title: title.trim(), description: description.trim(), topics: parseTopics(topics), emailUpdates } }),
          ['title', 'description', 'topics', 'emailUpdates'],
        );
        // on success, or on a stale version (the case was reloaded), show the current case
        if (ok !== 'error') setOpen(false);
      }}
    >
      <TextField id="edit-title" label={t('title')} required value={title} onChange={(e) => setTitle(e.target.value)} />
      <TextArea id="edit-description" label={t('description')} required value={description} onChange={(e) => setDescription(e.target.value)} rows={5} />
      <TextField id="edit-topics" label={t('topics')} hint={t('topicsHint')} value={topics} onChange={(e) => setTopics(e.target.value)} />
      <div className="field field-check">
        <input id="edit-email-updates" type="checkbox" checked={emailUpdates} onChange={(e) => setEmailUpdates(e.target.checked)} />
        <label htmlFor="edit-email-updates">{t('emailUpdatesLabel')}</label>
      </div>
      <div className="btn-row">
        <button type="submit" className="btn btn-primary" disabled={update.pending}>
          {t('save')}
        </button>
        <button type="button" className="btn btn-secondary" onClick={() => setOpen(false)}>
          {t('cancel')}
        </button>
      </div>
    </form>
  );
}

export function ResolveControls({ c, versioned, plain, panels }: { c: Case; versioned: Versioned; plain: Plain; panels: Panels }) {
  const { t, client } = useApp();
  const resolve = useMutation(ResolveDoc);
  const reopen = useMutation(ReopenDoc);
  const close = useMutation(CloseDoc);
  const outcomeOpts = useEnumOptions('Outcome', enumValues('Outcome'));
  const [outcomes, setOutcomes] = useState<Outcome[]>([]);
  const [summary, setSummary] = useState('');
  const [reopenNote, setReopenNote] = useState('');
  const [code, setCode] = useState<string | null>(null);
  const [localErr, setLocalErr] = useState<Record<string, string>>({});

  const [confirmRotate, setConfirmRotate] = useState(false);
  const rotate = (
    <div className="control-box">
      <h3 className="sub-heading">{t('rotateCode')}</h3>
      {code && <AccessHandoff reference={c.reference} accessCode={code} testPrefix="rotated" />}
      {confirmRotate ? (
        <div className="confirm-box" role="alertdialog" aria-labelledby="rotate-confirm-text">
          <p id="rotate-confirm-text" className="warning-text">{t('rotateConfirm')}</p>
          <div className="btn-row">
            <button
              type="button"
              className="btn btn-danger"
              data-testid="rotate-confirm"
              onClick={() =>
                void plain(async () => {
                  const d = await client.request(RotateDoc, { caseId: c.id });
                  setCode(d.rotateAccessCode);
                  setConfirmRotate(false);
                })
              }
            >
              {t('rotateConfirmYes')}
            </button>
            <button type="button" className="btn" onClick={() => setConfirmRotate(false)}>
              {t('cancel')}
            </button>
          </div>
        </div>
      ) : (
        <button type="button" className="btn btn-secondary" data-testid="rotate-start" onClick={() => setConfirmRotate(true)}>
          {t('rotateCode')}
        </button>
      )}
    </div>
  );

  if (c.canReopen || c.canClose) {
    return (
      <div className="grid-2">
        <div className="control-box">
          <h3 className="sub-heading">{c.canReopen ? t('reopen') : t('closeCase')}</h3>
          {c.canReopen && <TextField id="reopen-note" label={t('noteOptional')} value={reopenNote} onChange={(e) => setReopenNote(e.target.value)} />}
          <div className="btn-row">
            {c.canReopen && (
              <button type="button" className="btn btn-primary" disabled={reopen.pending} onClick={() => void plain(() => reopen.mutate({ caseId: c.id, note: reopenNote.trim() || null }))}>
                {t('reopen')}
              </button>
            )}
            {c.canClose && (
              <button
                type="button"
                className="btn btn-danger"
                disabled={close.pending}
                onClick={() => {
                  if (window.confirm(t('closeConfirm'))) void plain(() => close.mutate({ caseId: c.id }));
                }}
              >
                {t('closeCase')}
              </button>
            )}
          </div>
        </div>
        {rotate}
      </div>
    );
  }
  if (!c.canResolve) {
    return (
      <div className="grid-2">
        {c.isOpen && (
          <div className="control-box">
            <h3 className="sub-heading">{t('resolve')}</h3>
            <p className="hint">{t('resolveNotYet')}</p>
          </div>
        )}
        {rotate}
      </div>
    );
  }
  // Collapsed until used: the outcome checklist is long, and most visits to a case do not resolve it.
  return (
    <div className="grid-2">
      <ActionDetails name="resolve" summary={t('resolve')} panels={panels}>
        <form
          noValidate
          onSubmit={async (ev: FormEvent) => {
            ev.preventDefault();
            const errs: Record<string, string> = {};
            if (outcomes.length === 0) errs.outcomes = t('fieldChoose', { field: t('outcomes') });
            if (!summary.trim()) errs.summary = t('fieldMissing', { field: t('outcomeSummary') });
            setLocalErr(errs);
            if (Object.keys(errs).length) return;
            const ok = await versioned((v) => resolve.mutate({ caseId: c.id, expectedVersion: v, outcomes, summary: summary.trim() }), ['outcomes', 'summary']);
            if (ok === 'ok') {
              setOutcomes([]);
              setSummary('');
            }
          }}
        >
          <fieldset className="checkbox-group" aria-describedby="outcomes-err">
            <legend>{t('outcomes')}</legend>
            {outcomeOpts.map((o) => (
              <div key={o.value} className="field-check">
                <input
                  type="checkbox"
                  id={`outcome-${o.value}`}
                  checked={outcomes.includes(o.value as Outcome)}
                  onChange={(e) => setOutcomes(e.target.checked ? [...outcomes, o.value as Outcome] : outcomes.filter((x) => x !== o.value))}
                />
                <label htmlFor={`outcome-${o.value}`}>{o.label}</label>
              </div>
            ))}
            <p className="field-error" id="outcomes-err" aria-live="polite">
              {localErr.outcomes ?? ''}
            </p>
          </fieldset>
          <TextArea id="resolve-summary" label={t('outcomeSummary')} required value={summary} onChange={(e) => setSummary(e.target.value)} rows={3} error={localErr.summary} />
          <button type="submit" className="btn btn-primary" disabled={resolve.pending}>
            {t('resolve')}
          </button>
        </form>
      </ActionDetails>
      {rotate}
    </div>
  );
}
