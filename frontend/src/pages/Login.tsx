import { useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { Link } from '../app/router';
import { Banner, TextField, useFormErrors, FormMessages } from '../components/ui';

export function LoginPage() {
  const { t, client, endReason, lang, setLang } = useApp();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [pending, setPending] = useState(false);
  const form = useFormErrors(['email', 'password']);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    form.clear();
    setPending(true);
    try {
      await client.login(email.trim(), password);
      if (location.pathname === '/login') history.replaceState(null, '', '/');
    } catch (err) {
      form.setError(err);
    } finally {
      setPending(false);
    }
  };

  return (
    <div className="login-page">
      <main id="main" className="login-card">
        <div className="login-brand">
          <span className="brand-mark" aria-hidden="true" />
          <div>
            <p className="brand-name">{t('appName')}</p>
            <p className="brand-sub">{t('appSub')}</p>
          </div>
          <button type="button" className="btn btn-ghost lang-switch" onClick={() => setLang(lang === 'ja' ? 'en' : 'ja')}>
            {t('switchLang')}
          </button>
        </div>
        <h1 tabIndex={-1}>{t('signInTitle')}</h1>
        <p className="lead">{t('signInLead')}</p>
        {endReason === 'expired' && <Banner kind="warning">{t('sessionEnded')}</Banner>}
        {endReason === 'signedOut' && <Banner kind="info">{t('signedOut')}</Banner>}
        <FormMessages form={form} />
        <form onSubmit={submit} noValidate>
          <TextField id="email" label={t('email')} type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} error={form.fields.email} />
          <TextField id="password" label={t('password')} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} error={form.fields.password} />
          <button type="submit" className="btn btn-primary btn-block" disabled={pending}>
            {pending ? t('loading') : t('signIn')}
          </button>
        </form>
        <p className="login-public">
          <Link href="/forgot-password">{t('forgotPassword')}</Link>
        </p>
        <p className="login-public">
          {t('publicLinks')}: <Link href="/consult">{t('navConsult')}</Link> ・ <Link href="/status">{t('navStatus')}</Link>
        </p>
      </main>
    </div>
  );
}
