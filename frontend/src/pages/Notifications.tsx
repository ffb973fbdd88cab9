// Notifications: every user's preferences (profile), the admin's outbox (what
// was sent to whom, masked, what failed and why, retry) and the institutions'
// webhooks (register a URL, see the secret once, pause).
import { useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { Link } from '../app/router';
import { useMutation, useQuery } from '../app/hooks';
import { Banner, ErrorState, FormMessages, Loading, PageTitle, SelectField, TextField, useFormErrors } from '../components/ui';
import { graphql } from '../gql';
import { InstitutionsDoc } from '../graphql/ops';
import { formatDateTime } from '../lib/format';

export const NotificationSettingsDoc = graphql(`
  query NotificationSettings {
    notificationSettings {
      language
      kinds {
        kind
        label
        enabled
        safetyCritical
      }
    }
  }
`);

export const UpdateNotificationSettingsDoc = graphql(`
  mutation UpdateNotificationSettings($language: String, $disabledKinds: [String!]!) {
    updateNotificationSettings(language: $language, disabledKinds: $disabledKinds) {
      language
      kinds {
        kind
        label
        enabled
        safetyCritical
      }
    }
  }
`);

export const OutboxDoc = graphql(`
  query Outbox($status: String, $first: Int) {
    outbox(status: $status, first: $first) {
      id
      kind
      kindLabel
      channel
      recipient
      status
      attempts
      lastError
      caseId
      createdAt
      nextAttemptAt
      sentAt
    }
  }
`);

export const RetryOutboxEntryDoc = graphql(`
  mutation RetryOutboxEntry($id: ID!) {
    retryOutboxEntry(id: $id) {
      id
      status
    }
  }
`);

export const WebhooksDoc = graphql(`
  query Webhooks {
    webhooks {
      id
      institutionId
      url
      active
      createdAt
    }
  }
`);

export const CreateWebhookDoc = graphql(`
  mutation CreateWebhook($institutionId: ID!, $url: String!) {
    createWebhook(institutionId: $institutionId, url: $url) {
      secret
      webhook {
        id
        url
      }
    }
  }
`);

export const SetWebhookActiveDoc = graphql(`
  mutation SetWebhookActive($id: ID!, $active: Boolean!) {
    setWebhookActive(id: $id, active: $active) {
      id
      active
    }
  }
`);

const TEXT = {
  ja: {
    settingsTitle: '通知の設定',
    settingsIntro: 'メールで受け取るお知らせを選べます。受付期限超過のエスカレーションとパスワード再設定は止められません。',
    language: 'メールの言語',
    ja: '日本語',
    en: 'English',
    critical: '必須',
    save: '保存',
    saved: '保存しました。',
    outboxTitle: '通知の送信状況',
    outboxIntro: 'このラボから送ったメールと Webhook。宛先は一部を伏せて表示します。',
    all: 'すべて',
    statusFilter: '状態',
    created: '作成',
    kind: '種類',
    recipient: '宛先',
    status: '状態',
    attempts: '試行',
    error: 'エラー',
    actions: '操作',
    retry: '再送',
    retried: '再送を予約しました。',
    empty: '通知はまだありません。',
    openCase: '案件',
    PENDING: '送信待ち',
    SENT: '送信済み',
    FAILED: '失敗',
    SKIPPED: '送信なし',
    webhooksTitle: 'Webhook(連携先システム)',
    webhooksIntro: '連携機関のシステムへ、その機関が見られる紹介の出来事を JSON で送ります。署名(X-Dxdesk-Signature)の確認方法は README をご覧ください。',
    institution: '連携機関',
    url: 'URL',
    register: '登録',
    secretOnce: '署名用シークレット(この画面でだけ表示します。控えてください):',
    active: '有効',
    paused: '停止中',
    pause: '停止',
    resume: '再開',
    choose: '選択してください',
    noHooks: 'Webhook はまだ登録されていません。',
  },
  en: {
    settingsTitle: 'Notifications',
    settingsIntro: 'Choose which mails you receive. Overdue escalations and password resets cannot be switched off.',
    language: 'Mail language',
    ja: '日本語',
    en: 'English',
    critical: 'required',
    save: 'Save',
    saved: 'Saved.',
    outboxTitle: 'Outbox',
    outboxIntro: "Mails and webhooks sent for this lab. Addresses are partly masked.",
    all: 'All',
    statusFilter: 'Status',
    created: 'Created',
    kind: 'Kind',
    recipient: 'Recipient',
    status: 'Status',
    attempts: 'Attempts',
    error: 'Error',
    actions: 'Actions',
    retry: 'Retry',
    retried: 'Queued again.',
    empty: 'No notifications yet.',
    openCase: 'Case',
    PENDING: 'Pending',
    SENT: 'Sent',
    FAILED: 'Failed',
    SKIPPED: 'Skipped',
    webhooksTitle: 'Webhooks (partner systems)',
    webhooksIntro: "Partner systems receive, as JSON, the events of referrals their institution may see. See the README for verifying X-Dxdesk-Signature.",
    institution: 'Institution',
    url: 'URL',
    register: 'Register',
    secretOnce: 'Signing secret (shown only now — keep it):',
    active: 'Active',
    paused: 'Paused',
    pause: 'Pause',
    resume: 'Resume',
    choose: 'Choose',
    noHooks: 'No webhooks yet.',
  },
} as const;

function useText() {
  const { lang } = useApp();
  return TEXT[lang === 'en' ? 'en' : 'ja'];
}

export function NotificationSettingsPage() {
  const x = useText();
  const q = useQuery(NotificationSettingsDoc, {});
  const save = useMutation(UpdateNotificationSettingsDoc);
  const form = useFormErrors(['language', 'disabledKinds']);
  const [draft, setDraft] = useState<{ language: string; off: string[] } | null>(null);
  const data = q.data?.notificationSettings;
  const cur = draft ?? (data ? { language: data.language, off: data.kinds.filter((k) => !k.enabled).map((k) => k.kind) } : null);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!cur) return;
    form.clear();
    try {
      await save.mutate({ language: cur.language, disabledKinds: cur.off });
      form.setSuccess(x.saved);
      setDraft(null);
      await q.reload();
    } catch (err) {
      form.setError(err);
    }
  };

  return (
    <section>
      <PageTitle>{x.settingsTitle}</PageTitle>
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}
      {q.loading && !data && <Loading />}
      {data && cur && (
        <form className="card stack" onSubmit={submit} noValidate>
          <p>{x.settingsIntro}</p>
          <FormMessages form={form} />
          <SelectField
            id="n-language"
            label={x.language}
            value={cur.language}
            onChange={(ev) => setDraft({ ...cur, language: ev.target.value })}
            options={[
              { value: 'JA', label: x.ja },
              { value: 'EN', label: x.en },
            ]}
            error={form.fields.language}
          />
          <fieldset className="checkbox-group">
            <legend>{x.settingsTitle}</legend>
            {data.kinds.map((k) => (
              <div key={k.kind} className="field-check">
                <input
                  type="checkbox"
                  id={`n-${k.kind}`}
                  checked={k.safetyCritical || !cur.off.includes(k.kind)}
                  disabled={k.safetyCritical}
                  onChange={(ev) => setDraft({ ...cur, off: ev.target.checked ? cur.off.filter((o) => o !== k.kind) : [...cur.off, k.kind] })}
                />
                <label htmlFor={`n-${k.kind}`}>
                  {k.label}
                  {k.safetyCritical ? `(${x.critical})` : ''}
                </label>
              </div>
            ))}
          </fieldset>
          <button type="submit" className="btn btn-primary" disabled={save.pending}>
            {x.save}
          </button>
        </form>
      )}
    </section>
  );
}

const STATUSES = ['PENDING', 'SENT', 'FAILED', 'SKIPPED'] as const;

export function OutboxPage() {
  const x = useText();
  const { lang } = useApp();
  const [status, setStatus] = useState('');
  const q = useQuery(OutboxDoc, { status: status || null, first: 200 });
  const retry = useMutation(RetryOutboxEntryDoc);
  const msg = useFormErrors([]);
  const label = (s: string) => (x as Record<string, string>)[s] ?? s;

  return (
    <section>
      <PageTitle>{x.outboxTitle}</PageTitle>
      <p>{x.outboxIntro}</p>
      <FormMessages form={msg} />
      <SelectField
        id="o-status"
        label={x.statusFilter}
        value={status}
        onChange={(ev) => setStatus(ev.target.value)}
        empty={x.all}
        options={STATUSES.map((s) => ({ value: s, label: label(s) }))}
      />
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}
      {q.loading && !q.data && <Loading />}
      {q.data && q.data.outbox.length === 0 && <Banner>{x.empty}</Banner>}
      {q.data && q.data.outbox.length > 0 && (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">{x.outboxTitle}</caption>
            <thead>
              <tr>
                <th scope="col">{x.created}</th>
                <th scope="col">{x.kind}</th>
                <th scope="col">{x.recipient}</th>
                <th scope="col">{x.status}</th>
                <th scope="col">{x.attempts}</th>
                <th scope="col">{x.error}</th>
                <th scope="col">{x.actions}</th>
              </tr>
            </thead>
            <tbody>
              {q.data.outbox.map((r) => (
                <tr key={r.id} className={r.status === 'FAILED' ? 'row-inactive' : undefined}>
                  <td>{formatDateTime(r.createdAt, lang)}</td>
                  <td>
                    {r.kindLabel}
                    {r.caseId && (
                      <>
                        {' '}
                        <Link href={`/cases/${r.caseId}`}>{x.openCase}</Link>
                      </>
                    )}
                  </td>
                  <td className="mono">{r.recipient}</td>
                  <td>
                    <span className={`badge badge-outbox-${r.status.toLowerCase()}`}>{label(r.status)}</span>
                  </td>
                  <td>{r.attempts}</td>
                  <td>{r.lastError ?? ''}</td>
                  <td>
                    {r.status === 'FAILED' && (
                      <button
                        type="button"
                        className="btn btn-secondary btn-small"
                        disabled={retry.pending}
                        onClick={async () => {
                          msg.clear();
                          try {
                            await retry.mutate({ id: r.id });
                            msg.setSuccess(x.retried);
                            await q.reload();
                          } catch (err) {
                            msg.setError(err);
                          }
                        }}
                      >
                        {x.retry}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function WebhooksPage() {
  const x = useText();
  const { lang } = useApp();
  const q = useQuery(WebhooksDoc, {});
  const insts = useQuery(InstitutionsDoc, {});
  const create = useMutation(CreateWebhookDoc);
  const setActive = useMutation(SetWebhookActiveDoc);
  const form = useFormErrors(['institutionId', 'url']);
  const [draft, setDraft] = useState({ institutionId: '', url: '' });
  const [secret, setSecret] = useState<string | null>(null);
  const instName = (id: string) => insts.data?.institutions.find((i) => i.id === id)?.name ?? id;

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    form.clear();
    setSecret(null);
    if (!draft.institutionId) return form.setField('institutionId', x.choose);
    try {
      const r = await create.mutate(draft);
      setSecret(r.createWebhook.secret);
      setDraft({ institutionId: '', url: '' });
      await q.reload();
    } catch (err) {
      form.setError(err);
    }
  };

  return (
    <section>
      <PageTitle>{x.webhooksTitle}</PageTitle>
      <p>{x.webhooksIntro}</p>
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}
      {q.loading && !q.data && <Loading />}
      {q.data && q.data.webhooks.length === 0 && <Banner>{x.noHooks}</Banner>}
      {q.data && q.data.webhooks.length > 0 && (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">{x.webhooksTitle}</caption>
            <thead>
              <tr>
                <th scope="col">{x.institution}</th>
                <th scope="col">{x.url}</th>
                <th scope="col">{x.created}</th>
                <th scope="col">{x.status}</th>
                <th scope="col">{x.actions}</th>
              </tr>
            </thead>
            <tbody>
              {q.data.webhooks.map((w) => (
                <tr key={w.id} className={w.active ? undefined : 'row-inactive'}>
                  <td>{instName(w.institutionId)}</td>
                  <td className="mono">{w.url}</td>
                  <td>{formatDateTime(w.createdAt, lang)}</td>
                  <td>{w.active ? x.active : x.paused}</td>
                  <td>
                    <button
                      type="button"
                      className="btn btn-secondary btn-small"
                      onClick={async () => {
                        await setActive.mutate({ id: w.id, active: !w.active });
                        await q.reload();
                      }}
                    >
                      {w.active ? x.pause : x.resume}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="card stack" onSubmit={submit} noValidate>
        <h2>{x.register}</h2>
        <FormMessages form={form} />
        {secret && (
          <Banner kind="success">
            {x.secretOnce} <code>{secret}</code>
          </Banner>
        )}
        <SelectField
          id="w-inst"
          label={x.institution}
          required
          value={draft.institutionId}
          empty={x.choose}
          onChange={(ev) => setDraft({ ...draft, institutionId: ev.target.value })}
          options={(insts.data?.institutions ?? []).filter((i) => i.active).map((i) => ({ value: i.id, label: i.name }))}
          error={form.fields.institutionId}
        />
        <TextField id="w-url" label={x.url} required type="url" placeholder="https://partner.example.jp/dxdesk-webhook" value={draft.url} onChange={(ev) => setDraft({ ...draft, url: ev.target.value })} error={form.fields.url} />
        <button type="submit" className="btn btn-primary" disabled={create.pending}>
          {x.register}
        </button>
      </form>
    </section>
  );
}
