// Secretariat: partner institutions — create, edit tags and regions, deactivate.
import { useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { useMutation, useQuery } from '../app/hooks';
import { ErrorState, FormMessages, Loading, PageTitle, SelectField, TextField, useEnumOptions, useFormErrors } from '../components/ui';
import type { InstitutionKind, InstitutionsQuery } from '../gql/graphql';
import { CreateInstitutionDoc, InstitutionsDoc, LabDoc, UpdateInstitutionDoc } from '../graphql/ops';
import { enumValues } from '../lib/i18n';
import { parseTopics } from '../lib/validate';

type Inst = InstitutionsQuery['institutions'][number];
interface Region {
  code: string;
  name: string;
}

function RegionChecks({ idPrefix, regions, value, onChange }: { idPrefix: string; regions: Region[]; value: string[]; onChange: (v: string[]) => void }) {
  const { t } = useApp();
  return (
    <fieldset className="checkbox-group inline-checks">
      <legend>{t('regions')}</legend>
      {regions.map((r) => (
        <div key={r.code} className="field-check">
          <input type="checkbox" id={`${idPrefix}-${r.code}`} checked={value.includes(r.code)} onChange={(e) => onChange(e.target.checked ? [...value, r.code] : value.filter((x) => x !== r.code))} />
          <label htmlFor={`${idPrefix}-${r.code}`}>{r.name}</label>
        </div>
      ))}
    </fieldset>
  );
}

function EditRow({ inst, regions, onDone }: { inst: Inst; regions: Region[]; onDone: () => Promise<unknown> }) {
  const { t } = useApp();
  const update = useMutation(UpdateInstitutionDoc);
  const form = useFormErrors(['name', 'tags', 'regions']);
  const [tags, setTags] = useState(inst.tags.join(', '));
  const [reg, setReg] = useState<string[]>(inst.regions);
  return (
    <form
      className="edit-row"
      noValidate
      onSubmit={async (ev: FormEvent) => {
        ev.preventDefault();
        try {
          await update.mutate({ id: inst.id, input: { tags: parseTopics(tags), regions: reg } });
          await onDone();
        } catch (err) {
          form.setError(err);
        }
      }}
    >
      <FormMessages form={form} />
      <TextField id={`tags-${inst.id}`} label={t('tags')} hint={t('topicsHint')} value={tags} onChange={(e) => setTags(e.target.value)} error={form.fields.tags} />
      <RegionChecks idPrefix={`reg-${inst.id}`} regions={regions} value={reg} onChange={setReg} />
      <button type="submit" className="btn btn-primary btn-small" disabled={update.pending}>
        {t('save')}
      </button>
    </form>
  );
}

export function InstitutionsPage() {
  const { t, e } = useApp();
  const q = useQuery(InstitutionsDoc, {});
  const lab = useQuery(LabDoc, {});
  const create = useMutation(CreateInstitutionDoc);
  const update = useMutation(UpdateInstitutionDoc);
  const form = useFormErrors(['name', 'kind', 'tags', 'regions']);
  const listMsg = useFormErrors([]);
  const kindOpts = useEnumOptions('InstitutionKind', enumValues('InstitutionKind'));
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState({ name: '', kind: 'INDUSTRY_SUPPORT' as InstitutionKind, tags: '', regions: [] as string[] });
  const regions = lab.data?.lab.regions ?? [];
  const regionName = (code: string) => regions.find((r) => r.code === code)?.name ?? code;

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    form.clear();
    if (!draft.name.trim()) {
      form.setField('name', t('fieldMissing', { field: t('name') }));
      return;
    }
    try {
      await create.mutate({ input: { name: draft.name.trim(), kind: draft.kind, tags: parseTopics(draft.tags), regions: draft.regions } });
      setDraft({ name: '', kind: 'INDUSTRY_SUPPORT', tags: '', regions: [] });
      form.setSuccess(t('saved'));
      await q.reload();
    } catch (err) {
      form.setError(err);
    }
  };

  const setActive = async (id: string, active: boolean) => {
    listMsg.clear();
    try {
      await update.mutate({ id, input: { active } });
      await q.reload();
    } catch (err) {
      listMsg.setError(err);
    }
  };

  return (
    <section>
      <PageTitle>{t('institutionsTitle')}</PageTitle>
      <FormMessages form={listMsg} />
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}
      {q.loading && !q.data && <Loading />}
      {q.data && (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">{t('institutionsTitle')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('name')}</th>
                <th scope="col">{t('kind')}</th>
                <th scope="col">{t('tags')}</th>
                <th scope="col">{t('regions')}</th>
                <th scope="col">{t('status')}</th>
                <th scope="col">{t('actions')}</th>
              </tr>
            </thead>
            <tbody>
              {q.data.institutions.map((i) => (
                <tr key={i.id} className={i.active ? undefined : 'row-inactive'}>
                  <td>{i.name}</td>
                  <td>{e('InstitutionKind', i.kind)}</td>
                  <td colSpan={editing === i.id ? 2 : 1}>
                    {editing === i.id ? (
                      <EditRow
                        inst={i}
                        regions={regions}
                        onDone={async () => {
                          setEditing(null);
                          await q.reload();
                        }}
                      />
                    ) : (
                      i.tags.map((tag) => (
                        <span key={tag} className="tag">
                          {tag}
                        </span>
                      ))
                    )}
                  </td>
                  {editing !== i.id && <td>{i.regions.length ? i.regions.map(regionName).join(t('listSep')) : t('all')}</td>}
                  <td>{i.active ? t('active') : t('inactive')}</td>
                  <td className="btn-row">
                    <button type="button" className="btn btn-secondary btn-small" onClick={() => setEditing(editing === i.id ? null : i.id)} aria-label={`${t('edit')}: ${i.name}`}>
                      {editing === i.id ? t('cancel') : t('edit')}
                    </button>
                    <button type="button" className={i.active ? 'btn btn-danger btn-small' : 'btn btn-secondary btn-small'} onClick={() => void setActive(i.id, !i.active)} aria-label={`${i.active ? t('deactivate') : t('activate')}: ${i.name}`}>
                      {i.active ? t('deactivate') : t('activate')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="card stack" onSubmit={submit} noValidate>
        <h2>{t('createInstitution')}</h2>
        <FormMessages form={form} />
        <div className="grid-2">
          <TextField id="i-name" label={t('name')} required value={draft.name} onChange={(ev) => setDraft({ ...draft, name: ev.target.value })} error={form.fields.name} />
          <SelectField id="i-kind" label={t('kind')} required value={draft.kind} onChange={(ev) => setDraft({ ...draft, kind: ev.target.value as InstitutionKind })} options={kindOpts} error={form.fields.kind} />
        </div>
        <TextField id="i-tags" label={t('tags')} hint={t('topicsHint')} value={draft.tags} onChange={(ev) => setDraft({ ...draft, tags: ev.target.value })} error={form.fields.tags} />
        <RegionChecks idPrefix="i-reg" regions={regions} value={draft.regions} onChange={(r) => setDraft({ ...draft, regions: r })} />
        <button type="submit" className="btn btn-primary" disabled={create.pending}>
          {t('createInstitution')}
        </button>
      </form>
    </section>
  );
}
