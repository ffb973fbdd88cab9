// Secretariat: the lab's users — create, edit (name, role, institution,
// language), issue a set-password link, deactivate, activate.
import { useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { useMutation, useQuery } from '../app/hooks';
import { Banner, ErrorState, FormMessages, Loading, PageTitle, SelectField, TextField, useEnumOptions, useFormErrors } from '../components/ui';
import type { Role } from '../gql/graphql';
import { ActivateUserDoc, CreateUserDoc, DeactivateUserDoc, InstitutionsDoc, IssuePasswordLinkDoc, UpdateUserDoc, UsersDoc } from '../graphql/ops';
import { enumValues } from '../lib/i18n';

const PAGE = 25;

export function UsersPage() {
  const { t, e, user: me } = useApp();
  const q = useQuery(UsersDoc, {});
  const inst = useQuery(InstitutionsDoc, {});
  const create = useMutation(CreateUserDoc);
  const deactivate = useMutation(DeactivateUserDoc);
  const activate = useMutation(ActivateUserDoc);
  const form = useFormErrors(['email', 'displayName', 'password', 'role', 'institutionId']);
  const listMsg = useFormErrors([]);
  const roleOpts = useEnumOptions('Role', enumValues('Role'));
  const [draft, setDraft] = useState({ email: '', displayName: '', password: '', role: 'CONCIERGE' as Role, institutionId: '' });
  const [shown, setShown] = useState(PAGE);
  const update = useMutation(UpdateUserDoc);
  const issue = useMutation(IssuePasswordLinkDoc);
  const editForm = useFormErrors(['displayName', 'role', 'institutionId', 'language']);
  const [editing, setEditing] = useState<{ id: string; email: string; displayName: string; role: Role; institutionId: string; language: string } | null>(null);
  const [link, setLink] = useState<{ email: string; url: string } | null>(null);

  const saveEdit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!editing) return;
    editForm.clear();
    try {
      await update.mutate({
        id: editing.id,
        input: {
          displayName: editing.displayName.trim(),
          role: editing.role,
          institutionId: editing.role === 'PARTNER' ? editing.institutionId || null : '',
          language: editing.language || null,
        },
      });
      setEditing(null);
      listMsg.setSuccess(t('saved'));
      await q.reload();
    } catch (err) {
      editForm.setError(err);
    }
  };

  const issueLink = async (id: string, email: string) => {
    listMsg.clear();
    try {
      const r = await issue.mutate({ userId: id });
      setLink({ email, url: r.issuePasswordLink });
    } catch (err) {
      listMsg.setError(err);
    }
  };

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    form.clear();
    try {
      await create.mutate({
        input: {
          email: draft.email.trim(),
          displayName: draft.displayName.trim(),
          password: draft.password,
          role: draft.role,
          institutionId: draft.role === 'PARTNER' ? draft.institutionId || null : null,
        },
      });
      setDraft({ email: '', displayName: '', password: '', role: 'CONCIERGE', institutionId: '' });
      form.setSuccess(t('saved'));
      await q.reload();
    } catch (err) {
      form.setError(err);
    }
  };

  const toggle = async (id: string, active: boolean) => {
    listMsg.clear();
    try {
      if (active) await deactivate.mutate({ id });
      else await activate.mutate({ id });
      listMsg.setSuccess(t('saved'));
      await q.reload();
    } catch (err) {
      listMsg.setError(err);
    }
  };

  const users = q.data?.users ?? [];
  return (
    <section>
      <PageTitle>{t('usersTitle')}</PageTitle>
      <FormMessages form={listMsg} />
      {link && (
        <Banner kind="info">
          {t('linkOnce')} ({link.email})<br />
          <code className="break-all" data-testid="password-link">{link.url}</code>
        </Banner>
      )}
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}
      {q.loading && !q.data && <Loading />}
      {q.data && (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">{t('usersTitle')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('displayName')}</th>
                <th scope="col">{t('email')}</th>
                <th scope="col">{t('role')}</th>
                <th scope="col">{t('institution')}</th>
                <th scope="col">{t('status')}</th>
                <th scope="col">{t('actions')}</th>
              </tr>
            </thead>
            <tbody>
              {users.slice(0, shown).map((u) => (
                <tr key={u.id} className={u.active ? undefined : 'row-inactive'} data-testid={`user-row-${u.email}`}>
                  <td>{u.displayName}</td>
                  <td>{u.email}</td>
                  <td>{e('Role', u.role)}</td>
                  <td>{u.institution?.name ?? '—'}</td>
                  <td>{u.active ? t('active') : t('inactive')}</td>
                  <td className="actions">
                    <button
                      type="button"
                      className="btn btn-secondary btn-small"
                      onClick={() => setEditing({ id: u.id, email: u.email, displayName: u.displayName, role: u.role, institutionId: u.institution?.id ?? '', language: '' })}
                      aria-label={`${t('edit')}: ${u.email}`}
                    >
                      {t('edit')}
                    </button>
                    {u.active && (
                      <button type="button" className="btn btn-secondary btn-small" disabled={issue.pending} onClick={() => void issueLink(u.id, u.email)} aria-label={`${t('issueLink')}: ${u.email}`}>
                        {t('issueLink')}
                      </button>
                    )}
                    {u.id !== me!.id && (
                      <button
                        type="button"
                        className={u.active ? 'btn btn-danger btn-small' : 'btn btn-secondary btn-small'}
                        disabled={deactivate.pending || activate.pending}
                        onClick={() => void toggle(u.id, u.active)}
                        aria-label={`${u.active ? t('deactivate') : t('activate')}: ${u.email}`}
                      >
                        {u.active ? t('deactivate') : t('activate')}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {users.length > shown && (
            <button type="button" className="btn btn-secondary" onClick={() => setShown(shown + PAGE)}>
              {t('more')} ({shown}/{users.length})
            </button>
          )}
        </div>
      )}

      {editing && (
        <form className="card stack" onSubmit={saveEdit} noValidate data-testid="edit-user">
          <h2>{t('edit')}: {editing.email}</h2>
          <FormMessages form={editForm} />
          <div className="grid-2">
            <TextField id="e-name" label={t('displayName')} required value={editing.displayName} onChange={(ev) => setEditing({ ...editing, displayName: ev.target.value })} error={editForm.fields.displayName} />
            <SelectField id="e-role" label={t('role')} required value={editing.role} onChange={(ev) => setEditing({ ...editing, role: ev.target.value as Role })} options={roleOpts} error={editForm.fields.role} />
            {editing.role === 'PARTNER' && (
              <SelectField
                id="e-institution"
                label={t('institution')}
                required
                value={editing.institutionId}
                onChange={(ev) => setEditing({ ...editing, institutionId: ev.target.value })}
                empty="—"
                options={(inst.data?.institutions ?? []).filter((i) => i.active).map((i) => ({ value: i.id, label: i.name }))}
                error={editForm.fields.institutionId}
              />
            )}
            <SelectField
              id="e-language"
              label={t('language')}
              value={editing.language}
              onChange={(ev) => setEditing({ ...editing, language: ev.target.value })}
              empty="—"
              options={[
                { value: 'JA', label: '日本語' },
                { value: 'EN', label: 'English' },
              ]}
              error={editForm.fields.language}
            />
          </div>
          <div className="row">
            <button type="submit" className="btn btn-primary" disabled={update.pending}>
              {t('saveUser')}
            </button>
            <button type="button" className="btn btn-secondary" onClick={() => setEditing(null)}>
              {t('cancel')}
            </button>
          </div>
        </form>
      )}

      <form className="card stack" onSubmit={submit} noValidate>
        <h2>{t('createUser')}</h2>
        <FormMessages form={form} />
        <div className="grid-2">
          <TextField id="u-email" label={t('email')} type="email" required value={draft.email} onChange={(ev) => setDraft({ ...draft, email: ev.target.value })} error={form.fields.email} autoComplete="off" />
          <TextField id="u-name" label={t('displayName')} required value={draft.displayName} onChange={(ev) => setDraft({ ...draft, displayName: ev.target.value })} error={form.fields.displayName} />
          <TextField id="u-password" label={t('initialPassword')} type="password" required value={draft.password} onChange={(ev) => setDraft({ ...draft, password: ev.target.value })} error={form.fields.password} autoComplete="new-password" />
          <SelectField id="u-role" label={t('role')} required value={draft.role} onChange={(ev) => setDraft({ ...draft, role: ev.target.value as Role })} options={roleOpts} error={form.fields.role} />
          {draft.role === 'PARTNER' && (
            <SelectField
              id="u-institution"
              label={t('institution')}
              required
              value={draft.institutionId}
              onChange={(ev) => setDraft({ ...draft, institutionId: ev.target.value })}
              empty="—"
              options={(inst.data?.institutions ?? []).filter((i) => i.active).map((i) => ({ value: i.id, label: i.name }))}
              error={form.fields.institutionId}
            />
          )}
        </div>
        <button type="submit" className="btn btn-primary" disabled={create.pending}>
          {t('createUser')}
        </button>
      </form>
    </section>
  );
}
