import { useEffect, useState, type FormEvent } from 'react';
import { useApp } from '../app/context';
import { useQuery } from '../app/hooks';
import { navigate, useLocation } from '../app/router';
import { CaseTable } from '../components/CaseTable';
import { ErrorState, Loading, PageTitle, SelectField, TextField, useEnumOptions } from '../components/ui';
import type { CaseFilter, CaseStatus, Channel, Stage } from '../gql/graphql';
import { CasesDoc, InstitutionsDoc } from '../graphql/ops';
import { enumValues } from '../lib/i18n';
import { formatCount } from '../lib/format';

const PAGE = 20;
const OPEN = 'NEW,IN_PROGRESS,ON_HOLD,REFERRED';

/** The list's filter, read from the address bar so that it can be linked and kept on reload. */
export function filterFromQuery(q: URLSearchParams, meId: string): CaseFilter {
  const f: CaseFilter = {};
  const list = (k: string) => (q.get(k) ?? '').split(',').filter(Boolean);
  if (q.get('status')) f.status = list('status') as CaseStatus[];
  if (q.get('stage')) f.stage = list('stage') as Stage[];
  if (q.get('channel')) f.channel = list('channel') as Channel[];
  if (q.get('institution')) f.institutionId = q.get('institution');
  if (q.get('topic')) f.topic = q.get('topic');
  if (q.get('search')) f.search = q.get('search');
  if (q.get('overdue') === '1') f.overdue = true;
  if (q.get('handedBack') === '1') f.handedBack = true;
  if (q.get('assigned') === 'me') f.assignedToId = meId;
  return f;
}

/** The filter form's fields as the address bar states them. */
export function draftFromQuery(query: URLSearchParams) {
  return {
    status: query.get('status') ?? '',
    stage: query.get('stage') ?? '',
    institution: query.get('institution') ?? '',
    topic: query.get('topic') ?? '',
    search: query.get('search') ?? '',
    overdue: query.get('overdue') === '1',
    handedBack: query.get('handedBack') === '1',
  };
}

export function CaseListPage() {
  const { t, lang, user } = useApp();
  const { query } = useLocation();
  const filter = filterFromQuery(query, user!.id);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const page = cursors.length - 1;
  const q = useQuery(CasesDoc, { filter, first: PAGE, after: cursors[page] });
  const inst = useQuery(InstitutionsDoc, {});
  const statusOpts = useEnumOptions('CaseStatus', enumValues('CaseStatus'));
  const stageOpts = useEnumOptions('Stage', enumValues('Stage'));

  const [draft, setDraft] = useState(() => draftFromQuery(query));
  // The form shows the filter actually applied: when the address changes (back/forward, a link,
  // a reload) the fields are refilled from it, so URL, form and results always agree.
  const qs = query.toString();
  useEffect(() => {
    setDraft(draftFromQuery(new URLSearchParams(qs)));
    setCursors([null]);
  }, [qs]);

  const apply = (ev: FormEvent) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    if (draft.status) p.set('status', draft.status);
    if (draft.stage) p.set('stage', draft.stage);
    if (draft.institution) p.set('institution', draft.institution);
    if (draft.topic.trim()) p.set('topic', draft.topic.trim());
    if (draft.search.trim()) p.set('search', draft.search.trim());
    if (draft.overdue) p.set('overdue', '1');
    if (draft.handedBack) p.set('handedBack', '1');
    for (const k of ['assigned', 'channel']) if (query.get(k)) p.set(k, query.get(k)!);
    setCursors([null]);
    navigate(`/cases${p.toString() ? `?${p}` : ''}`);
  };
  const reset = () => {
    setDraft({ status: '', stage: '', institution: '', topic: '', search: '', overdue: false, handedBack: false });
    setCursors([null]);
    navigate('/cases');
  };

  const conn = q.data?.cases;
  return (
    <section>
      <PageTitle>{t('casesTitle')}</PageTitle>
      <form className="filters card" onSubmit={apply} aria-label={t('filters')}>
        <TextField id="f-search" label={t('search')} type="search" placeholder={t('searchPlaceholder')} value={draft.search} onChange={(e) => setDraft({ ...draft, search: e.target.value })} />
        <SelectField
          id="f-status"
          label={t('status')}
          value={draft.status}
          onChange={(e) => setDraft({ ...draft, status: e.target.value })}
          empty={t('all')}
          options={[
            { value: OPEN, label: `${t('openCases')} (${statusOpts.slice(0, 4).map((o) => o.label).join('・')})` },
            ...statusOpts,
            // A combination from a link (e.g. the dashboard) that no single option names: shown as it is applied.
            ...(draft.status && draft.status !== OPEN && !statusOpts.some((o) => o.value === draft.status)
              ? [{ value: draft.status, label: draft.status.split(',').map((v) => statusOpts.find((o) => o.value === v)?.label ?? v).join('・') }]
              : []),
          ]}
        />
        <SelectField id="f-stage" label={t('stage')} value={draft.stage} onChange={(e) => setDraft({ ...draft, stage: e.target.value })} empty={t('all')} options={stageOpts} />
        <SelectField
          id="f-institution"
          label={t('institution')}
          value={draft.institution}
          onChange={(e) => setDraft({ ...draft, institution: e.target.value })}
          empty={t('all')}
          options={(inst.data?.institutions ?? []).map((i) => ({ value: i.id, label: i.name }))}
        />
        <TextField id="f-topic" label={t('topics')} value={draft.topic} onChange={(e) => setDraft({ ...draft, topic: e.target.value })} />
        <div className="field field-check">
          <input id="f-overdue" type="checkbox" checked={draft.overdue} onChange={(e) => setDraft({ ...draft, overdue: e.target.checked })} />
          <label htmlFor="f-overdue">{t('overdueOnly')}</label>
        </div>
        <div className="field field-check">
          <input id="f-handed-back" type="checkbox" checked={draft.handedBack} onChange={(e) => setDraft({ ...draft, handedBack: e.target.checked })} />
          <label htmlFor="f-handed-back">{t('handedBackOnly')}</label>
        </div>
        <div className="filter-actions">
          <button type="submit" className="btn btn-primary">
            {t('applyFilters')}
          </button>
          <button type="button" className="btn btn-secondary" onClick={reset}>
            {t('clear')}
          </button>
        </div>
      </form>
      {q.error && <ErrorState error={q.error} onRetry={() => void q.reload()} />}
      {q.loading && <Loading />}
      {conn && (
        <>
          <p className="result-count" aria-live="polite">
            {t(conn.totalCountExact ? 'resultCount' : 'resultCountAbout', { n: formatCount(conn.totalCount, conn.totalCountExact) })}
            {conn.totalCount > 0 &&
              ` — ${t('showingOf', {
                shown: `${page * PAGE + 1}–${page * PAGE + conn.edges.length}`,
                total: (conn.totalCountExact ? '' : lang === 'ja' ? '約' : '~') + formatCount(conn.totalCount, conn.totalCountExact),
              })}`}
          </p>
          <CaseTable rows={conn.edges.map((e) => e.node)} caption={t('casesTitle')} />
          {(page > 0 || conn.pageInfo.hasNextPage) && (
            <nav className="pager" aria-label={t('pagination')}>
              <button type="button" className="btn btn-secondary" disabled={page === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
                ← {t('prev')}
              </button>
              <span>{page + 1}</span>
              <button type="button" className="btn btn-secondary" disabled={!conn.pageInfo.hasNextPage} onClick={() => setCursors([...cursors, conn.pageInfo.endCursor ?? null])}>
                {t('next')} →
              </button>
            </nav>
          )}
        </>
      )}
    </section>
  );
}
