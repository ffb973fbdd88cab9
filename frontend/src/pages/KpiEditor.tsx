// Secretariat: the KPI targets of a fiscal year, and the hand-entered actuals.
import { useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { useMutation, useQuery } from '../app/hooks';
import { ErrorState, FormMessages, Loading, SelectField, TextField, useFormErrors } from '../components/ui';
import { DeleteKpiDoc, KpiTargetsDoc, SetKpiActualDoc, UpsertKpiDoc } from '../graphql/ops';
import { formatFiscalYear } from '../lib/format';

function ActualCell({ id, value, onDone }: { id: string; value: number | null | undefined; onDone: () => Promise<unknown> }) {
  const { t } = useApp();
  const set = useMutation(SetKpiActualDoc);
  const form = useFormErrors(['actual']);
  const [v, setV] = useState(value == null ? '' : String(value));
  return (
    <form
      className="inline-form compact"
      noValidate
      onSubmit={async (ev: FormEvent) => {
        ev.preventDefault();
        form.clear();
        const n = v.trim() === '' ? null : Number(v);
        if (n != null && !Number.isFinite(n)) {
          form.setField('actual', t('notANumber'));
          return;
        }
        try {
          await set.mutate({ id, actual: n });
          await onDone();
        } catch (err) {
          form.setError(err);
        }
      }}
    >
      <TextField id={`kpi-actual-${id}`} label={t('actual')} inputMode="decimal" value={v} onChange={(e) => setV(e.target.value)} error={form.fields.actual ?? form.banner ?? undefined} />
      <button type="submit" className="btn btn-secondary btn-small" disabled={set.pending}>
        {t('save')}
      </button>
    </form>
  );
}

export function KpiEditor({ fiscalYear, onChanged }: { fiscalYear: number; onChanged: () => Promise<unknown> }) {
  const { t, lang } = useApp();
  const q = useQuery(KpiTargetsDoc, { fiscalYear });
  const upsert = useMutation(UpsertKpiDoc);
  const del = useMutation(DeleteKpiDoc);
  const form = useFormErrors(['name', 'unit', 'target', 'metric', 'manualActual']);
  const [draft, setDraft] = useState({ name: '', unit: '件', target: '', metric: '' });

  const reload = async () => {
    await q.reload();
    await onChanged();
  };
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    form.clear();
    const target = Number(draft.target);
    if (!draft.name.trim()) form.setField('name', t('fieldMissing', { field: t('name') }));
    if (!draft.metric) form.setField('metric', t('fieldChoose', { field: t('kpiMetric') }));
    if (draft.target.trim() === '' || !Number.isFinite(target)) form.setField('target', t('notANumber'));
    if (!draft.name.trim() || !draft.metric || draft.target.trim() === '' || !Number.isFinite(target)) return;
    try {
      await upsert.mutate({ input: { fiscalYear, name: draft.name.trim(), unit: draft.unit.trim(), target, metric: draft.metric } });
      setDraft({ name: '', unit: '件', target: '', metric: '' });
      form.setSuccess(t('saved'));
      await reload();
    } catch (err) {
      form.setError(err);
    }
  };

  return (
    <details className="card kpi-editor">
      <summary>
        {t('kpiEdit')}（{formatFiscalYear(fiscalYear, lang)}）
      </summary>
      {q.loading && !q.data && <Loading />}
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}
      {q.data && (
        <>
          {q.data.kpiTargets.length === 0 ? (
            <p className="empty">{t('noKpis')}</p>
          ) : (
            <div className="table-wrap">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">{t('name')}</th>
                    <th scope="col">{t('kpiMetric')}</th>
                    <th scope="col" className="num">
                      {t('target')}
                    </th>
                    <th scope="col">{t('actual')}</th>
                    <th scope="col">{t('actions')}</th>
                  </tr>
                </thead>
                <tbody>
                  {q.data.kpiTargets.map((k) => (
                    <tr key={k.id}>
                      <td>{k.name}</td>
                      <td>{lang === 'ja' ? k.metricLabel : (q.data!.kpiMetrics.find((m) => m.code === k.metric)?.labelEn ?? k.metric)}</td>
                      <td className="num">
                        {k.target} {k.unit}
                      </td>
                      <td>{k.manual ? <ActualCell id={k.id} value={k.manualActual} onDone={reload} /> : <span className="muted">{t('kpiComputed')}</span>}</td>
                      <td>
                        <button
                          type="button"
                          className="btn btn-danger btn-small"
                          disabled={del.pending}
                          aria-label={`${t('delete')}: ${k.name}`}
                          onClick={async () => {
                            if (!window.confirm(t('deleteConfirm'))) return;
                            try {
                              await del.mutate({ id: k.id });
                              await reload();
                            } catch (err) {
                              form.setError(err);
                            }
                          }}
                        >
                          {t('delete')}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <form onSubmit={submit} noValidate className="stack">
            <h3 className="sub-heading">{t('kpiAdd')}</h3>
            <FormMessages form={form} />
            <div className="grid-2">
              <TextField id="kpi-name" label={t('name')} required value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} error={form.fields.name} />
              <SelectField
                id="kpi-metric"
                label={t('kpiMetric')}
                required
                value={draft.metric}
                onChange={(e) => setDraft({ ...draft, metric: e.target.value })}
                empty="—"
                options={q.data.kpiMetrics.map((m) => ({ value: m.code, label: lang === 'ja' ? m.label : m.labelEn }))}
                error={form.fields.metric}
              />
              <TextField id="kpi-target" label={t('target')} required inputMode="decimal" value={draft.target} onChange={(e) => setDraft({ ...draft, target: e.target.value })} error={form.fields.target} />
              <TextField id="kpi-unit" label={t('kpiUnit')} required value={draft.unit} onChange={(e) => setDraft({ ...draft, unit: e.target.value })} error={form.fields.unit} />
            </div>
            <button type="submit" className="btn btn-primary" disabled={upsert.pending}>
              {t('kpiAdd')}
            </button>
          </form>
        </>
      )}
    </details>
  );
}
