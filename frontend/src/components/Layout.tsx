// Page frames: the staff shell (header + left nav) and the public frame for businesses.
import type { ReactNode } from 'react';
import { useApp } from '../app/context';
import { Link, useLocation } from '../app/router';
import type { MsgKey } from '../lib/i18n';

function LangSwitch() {
  const { lang, setLang, t } = useApp();
  return (
    <button
      type="button"
      className="btn btn-ghost lang-switch"
      onClick={() => setLang(lang === 'ja' ? 'en' : 'ja')}
      lang={lang === 'ja' ? 'en' : 'ja'}
      aria-label={lang === 'ja' ? 'Switch to English' : '日本語に切り替え'}
    >
      {t('switchLang')}
    </button>
  );
}

function SkipLink() {
  const { t } = useApp();
  return (
    <a className="skip-link" href="#main">
      {t('skipToMain')}
    </a>
  );
}

interface NavItem {
  href: string;
  key: MsgKey;
}

function navFor(role: string): NavItem[] {
  if (role === 'PARTNER') {
    return [
      { href: '/partner/inbox', key: 'navInbox' },
      { href: '/partner/cases', key: 'navInstitutionCases' },
      { href: '/reports', key: 'navReports' },
      { href: '/profile/notifications', key: 'navNotifications' },
    ];
  }
  const items: NavItem[] = [
    { href: '/', key: 'navDashboard' },
    { href: '/cases', key: 'navCases' },
    { href: '/cases/new', key: 'navNewCase' },
    { href: '/reports', key: 'navReports' },
  ];
  if (role === 'ADMIN') {
    items.push({ href: '/admin/users', key: 'navUsers' }, { href: '/admin/institutions', key: 'navInstitutions' }, { href: '/admin/settings', key: 'navSettings' });
    items.push({ href: '/admin/outbox', key: 'navOutbox' }, { href: '/admin/webhooks', key: 'navWebhooks' });
  }
  items.push({ href: '/profile/notifications', key: 'navNotifications' });
  return items;
}

function isActive(href: string, path: string): boolean {
  if (href === '/') return path === '/';
  if (href === '/cases') return path === '/cases' || (path.startsWith('/cases/') && path !== '/cases/new');
  return path === href || path.startsWith(href + '/');
}

export function StaffLayout({ children }: { children: ReactNode }) {
  const { t, e, user, client } = useApp();
  const { path } = useLocation();
  if (!user) return null;
  return (
    <div className="shell">
      <SkipLink />
      <header className="topbar">
        <Link href="/" className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span className="brand-name">{t('appName')}</span>
          <span className="brand-sub">{t('appSub')}</span>
        </Link>
        <div className="topbar-right">
          <span className="whoami" data-testid="whoami">
            {user.displayName}
            <span className="role"> · {e('Role', user.role)}</span>
            {user.institution && <span className="role"> · {user.institution.name}</span>}
          </span>
          <LangSwitch />
          <button type="button" className="btn btn-ghost" onClick={() => void client.logout()}>
            {t('signOut')}
          </button>
        </div>
      </header>
      <div className="shell-body">
        <nav className="sidenav" aria-label={t('mainNav')}>
          <ul>
            {navFor(user.role).map((item) => (
              <li key={item.href}>
                <Link href={item.href} aria-current={isActive(item.href, path) ? 'page' : undefined}>
                  {t(item.key)}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" className="main" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}

export function PublicLayout({ children }: { children: ReactNode }) {
  const { t } = useApp();
  const { path } = useLocation();
  return (
    <div className="public">
      <SkipLink />
      <header className="topbar public-topbar">
        <Link href="/consult" className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span className="brand-name">{t('appName')}</span>
        </Link>
        <div className="topbar-right">
          <LangSwitch />
        </div>
      </header>
      <nav className="public-nav" aria-label={t('publicLinks')}>
        <Link href="/consult" aria-current={path === '/consult' ? 'page' : undefined}>
          {t('navConsult')}
        </Link>
        <Link href="/status" aria-current={path === '/status' ? 'page' : undefined}>
          {t('navStatus')}
        </Link>
        <Link href="/login">{t('signIn')}</Link>
      </nav>
      <main id="main" className="public-main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
