// Routes: public pages for businesses, sign-in, and the staff pages by role.
import { useEffect, type ReactNode } from 'react';
import { AppProvider, useApp } from './app/context';
import { match, navigate, useLocation } from './app/router';
import { PublicLayout, StaffLayout } from './components/Layout';
import { Loading, PageTitle } from './components/ui';
import { LoginPage } from './pages/Login';
import { DashboardPage } from './pages/Dashboard';
import { CaseListPage } from './pages/CaseList';
import { IntakePage } from './pages/Intake';
import { CasePage } from './pages/CasePage';
import { PartnerInboxPage, PartnerCasesPage } from './pages/Partner';
import { UsersPage } from './pages/AdminUsers';
import { InstitutionsPage } from './pages/AdminInstitutions';
import { ReportsPage } from './pages/Reports';
import { StatusPage } from './pages/PublicStatus';
import { ConsultPage } from './pages/PublicConsult';
import { ForgotPasswordPage, SetPasswordPage } from './pages/SetPassword';
import { LabSettingsPage } from './pages/LabSettings';
import { Link } from './app/router';

function NotFound() {
  const { t } = useApp();
  return (
    <section>
      <PageTitle>{t('notFound')}</PageTitle>
      <Link href="/">{t('backHome')}</Link>
    </section>
  );
}

function Forbidden() {
  const { t } = useApp();
  return (
    <section>
      <PageTitle>{t('forbiddenPage')}</PageTitle>
      <Link href="/">{t('backHome')}</Link>
    </section>
  );
}

function staffPage(path: string, role: string): ReactNode {
  const desk = role === 'ADMIN' || role === 'CONCIERGE';
  if (path === '/') return role === 'PARTNER' ? <PartnerInboxPage /> : <DashboardPage />;
  if (path === '/reports') return <ReportsPage />;
  if (path === '/partner/inbox') return role === 'PARTNER' ? <PartnerInboxPage /> : <Forbidden />;
  if (path === '/partner/cases') return role === 'PARTNER' ? <PartnerCasesPage /> : <Forbidden />;
  if (path === '/cases') return desk ? <CaseListPage /> : <Forbidden />;
  if (path === '/cases/new') return desk ? <IntakePage /> : <Forbidden />;
  const c = match('/cases/:id', path);
  if (c) return <CasePage key={c.id} id={c.id} />;
  if (path === '/admin/users') return role === 'ADMIN' ? <UsersPage /> : <Forbidden />;
  if (path === '/admin/institutions') return role === 'ADMIN' ? <InstitutionsPage /> : <Forbidden />;
  if (path === '/admin/settings') return role === 'ADMIN' ? <LabSettingsPage /> : <Forbidden />;
  return <NotFound />;
}

function Routes() {
  const { path } = useLocation();
  const { user, resuming } = useApp();

  // focus the page heading on navigation, so screen readers announce the new page
  useEffect(() => {
    const h = document.querySelector<HTMLElement>('main h1');
    h?.focus({ preventScroll: true });
  }, [path, user]);

  useEffect(() => {
    if (path === '/login' && user) navigate('/', { replace: true });
  }, [path, user]);

  if (path === '/status') return <PublicLayout><StatusPage /></PublicLayout>;
  if (path === '/consult') return <PublicLayout><ConsultPage /></PublicLayout>;
  if (path === '/set-password' || path === '/reset-password') return <PublicLayout><SetPasswordPage reset={path === '/reset-password'} /></PublicLayout>;
  if (path === '/forgot-password') return <PublicLayout><ForgotPasswordPage /></PublicLayout>;
  if (resuming) return <div className="center-page"><Loading /></div>;
  if (!user) return <LoginPage />;
  return <StaffLayout>{staffPage(path, user.role)}</StaffLayout>;
}

export function App() {
  return (
    <AppProvider>
      <Routes />
    </AppProvider>
  );
}
