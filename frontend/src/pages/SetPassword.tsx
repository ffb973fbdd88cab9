// The page of a set-password or reset link: the token is in the URL fragment
// (never sent to the server with the page), the password is checked by the
// API's policy (12–128 characters, not a common one).
import { useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { navigate } from '../app/router';
import { Banner, FormMessages, PageTitle, TextField, useFormErrors } from '../components/ui';
import { RequestPasswordResetDoc, ResetPasswordDoc } from '../graphql/ops';

export function SetPasswordPage({ reset }: { reset: boolean }) {
  const { t, client } = useApp();
  const [token] = useState(() => location.hash.replace(/^#/, '').trim());
  const [pw, setPw] = useState('');
  const [again, setAgain] = useState('');
  const [pending, setPending] = useState(false);
  const form = useFormErrors(['newPassword', 'token']);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    form.clear();
    if (pw !== again) {
      form.setError(new Error(t('passwordsDiffer')));
      return;
    }
    setPending(true);
    try {
      const data = await client.request(ResetPasswordDoc, { token, newPassword: pw }, { anonymous: true });
      // Drop the token from the address bar and history, then sign in.
      history.replaceState(null, '', '/');
      await client.login(data.resetPassword.user.email, pw);
      navigate('/', { replace: true });
    } catch (err) {
      form.setError(err);
    } finally {
      setPending(false);
    }
  };

  return (
    <section className="narrow">
      <PageTitle>{reset ? t('resetPasswordTitle') : t('setPasswordTitle')}</PageTitle>
      <p className="lead">{t('setPasswordLead')}</p>
      {!token && <Banner kind="warning">{t('noToken')}</Banner>}
      <FormMessages form={form} />
      <form className="card stack" onSubmit={submit} noValidate>
        <TextField id="new-password" label={t('newPassword')} type="password" autoComplete="new-password" required minLength={12} maxLength={128} value={pw} onChange={(e) => setPw(e.target.value)} error={form.fields.newPassword} />
        <TextField id="new-password-again" label={t('newPasswordAgain')} type="password" autoComplete="new-password" required value={again} onChange={(e) => setAgain(e.target.value)} />
        <button type="submit" className="btn btn-primary" disabled={pending || !token}>
          {t('setPassword')}
        </button>
      </form>
    </section>
  );
}

/** "Forgot your password?": always the same answer, whether or not the account exists. */
export function ForgotPasswordPage() {
  const { t, client } = useApp();
  const [email, setEmail] = useState('');
  const [pending, setPending] = useState(false);
  const form = useFormErrors(['email']);
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    form.clear();
    setPending(true);
    try {
      await client.request(RequestPasswordResetDoc, { email: email.trim() }, { anonymous: true });
      form.setSuccess(t('resetRequested'));
    } catch (err) {
      form.setError(err);
    } finally {
      setPending(false);
    }
  };
  return (
    <section className="narrow">
      <PageTitle>{t('resetPasswordTitle')}</PageTitle>
      <FormMessages form={form} />
      <form className="card stack" onSubmit={submit} noValidate>
        <TextField id="reset-email" label={t('email')} type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} error={form.fields.email} />
        <button type="submit" className="btn btn-primary" disabled={pending}>
          {t('requestReset')}
        </button>
      </form>
    </section>
  );
}
