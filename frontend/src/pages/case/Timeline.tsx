import { useApp } from '../../app/context';
import type { CaseFullFragment } from '../../gql/graphql';
import { formatDateTime } from '../../lib/format';

type Ev = CaseFullFragment['events'][number];

export function Timeline({ events }: { events: Ev[] }) {
  const { t, e, lang } = useApp();
  const sorted = [...events].sort((a, b) => b.seq - a.seq);
  return (
    <ol className="timeline" aria-label={t('timeline')}>
      {sorted.map((ev) => (
        <li key={ev.seq} className={`tl-item tl-${ev.kind.toLowerCase()}`}>
          <div className="tl-head">
            <span className="tl-kind">{e('EventKind', ev.kind)}</span>
            <time dateTime={ev.at}>{formatDateTime(ev.at, lang)}</time>
          </div>
          <div className="tl-body">
            <span className="tl-actor">{ev.actor?.displayName ?? t('system')}</span>
            {ev.summary && <span className="tl-detail"> — {ev.summary}</span>}
          </div>
        </li>
      ))}
    </ol>
  );
}
