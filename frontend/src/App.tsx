// Routes: public pages for businesses, sign-in, and the staff pages by role.
import { lazy, Suspense, useEffect, type ReactNode } from 'react';
import { AppProvider, useApp } from './app/context';
import { Link, match, navigate, useLocation } from './app/router';
import { PublicLayout, StaffLayout } from './components/Layout';
import { Loading, PageTitle } from './components/ui';
import { LoginPage } from './pages/Login';
import { StatusPage } from './pages/PublicStatus';
import { ConsultPage } from './pages/PublicConsult';

// The staff application is split off: the public pages (/status, /consult)
// and the sign-in page never download it.
const DashboardPage = lazy(() => import('./pages/Dashboard').then((m) => ({ default: m.DashboardPage })));
const CaseListPage = lazy(() => import('./pages/CaseList').then((m) => ({ default: m.CaseListPage })));
const IntakePage = lazy(() => import('./pages/Intake').then((m) => ({ default: m.IntakePage })));
const CasePage = lazy(() => import('./pages/CasePage').then((m) => ({ default: m.CasePage })));
const BusinessPage = lazy(() => import('./pages/BusinessPage').then((m) => ({ default: m.BusinessPage })));
const PartnerInboxPage = lazy(() => import('./pages/Partner').then((m) => ({ default: m.PartnerInboxPage })));
const PartnerCasesPage = lazy(() => import('./pages/Partner').then((m) => ({ default: m.PartnerCasesPage })));
const UsersPage = lazy(() => import('./pages/AdminUsers').then((m) => ({ default: m.UsersPage })));
const InstitutionsPage = lazy(() => import('./pages/AdminInstitutions').then((m) => ({ default: m.InstitutionsPage })));
const NotificationSettingsPage = lazy(() => import('./pages/Notifications').then((m) => ({ default: m.NotificationSettingsPage })));
const OutboxPage = lazy(() => import('./pages/Notifications').then((m) => ({ default: m.OutboxPage })));
const WebhooksPage = lazy(() => import('./pages/Notifications').then((m) => ({ default: m.WebhooksPage })));
const LabSettingsPage = lazy(() => import('./pages/LabSettings').then((m) => ({ default: m.LabSettingsPage })));
const ReportsPage = lazy(() => import('./pages/Reports').then((m) => ({ default: m.ReportsPage })));
import { ForgotPasswordPage, SetPasswordPage } from './pages/SetPassword';

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
  const biz = match('/businesses/:id', path);
  if (biz) return desk ? <BusinessPage key={biz.id} id={biz.id} /> : <Forbidden />;
  if (path === '/admin/users') return role === 'ADMIN' ? <UsersPage /> : <Forbidden />;
  if (path === '/admin/institutions') return role === 'ADMIN' ? <InstitutionsPage /> : <Forbidden />;
  if (path === '/admin/outbox') return role === 'ADMIN' ? <OutboxPage /> : <Forbidden />;
  if (path === '/admin/webhooks') return role === 'ADMIN' ? <WebhooksPage /> : <Forbidden />;
  if (path === '/profile/notifications') return <NotificationSettingsPage />;
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
  return (
    <StaffLayout>
      <Suspense fallback={<Loading />}>{staffPage(path, user.role)}</Suspense>
    </StaffLayout>
  );
}

export function App() {
  return (
    <AppProvider>
      <Routes />
    </AppProvider>
  );
}
