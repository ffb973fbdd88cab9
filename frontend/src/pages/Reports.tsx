// The lab's year (issue 6): filled in once activityReport's shape is in the schema.
import { useApp } from '../app/context';
import { PageTitle } from '../components/ui';

export function ReportsPage() {
  const { t } = useApp();
  return (
    <section>
      <PageTitle>{t('reportsTitle')}</PageTitle>
    </section>
  );
}
