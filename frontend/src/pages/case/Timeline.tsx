import { useApp } from '../../app/context';
import type { CaseFullFragment } from '../../gql/graphql';
import { formatDateTime } from '../../lib/format';
import type { EnumName } from '../../lib/labels';

type Ev = CaseFullFragment['events'][number];

const ENUM_OF: Record<string, EnumName> = {
  STAGE_CHANGED: 'Stage',
  STATUS_CHANGED: 'CaseStatus',
  RESOLVED: 'CaseStatus',
  REOPENED: 'CaseStatus',
  CLOSED: 'CaseStatus',
};

const HIDDEN_KEYS = new Set(['reference', 'pickupDeadline', 'consentToShare', 'version', 'hash', 'prevHash']);

/** Which enum a payload key holds, for its label. */
const KEY_ENUM: Record<string, EnumName> = {
  stage: 'Stage',
  channel: 'Channel',
  priority: 'Priority',
  reason: 'DeclineReason',
  visibility: 'NoteVisibility',
};

/** A one-line reading of an event's payload: 「知る → 相談する」, institution, reason… (ids are left out). */
export function describePayload(kind: string, payload: unknown, e: (n: EnumName, v: string) => string): string {
  if (payload == null || typeof payload !== 'object') return '';
  const p = payload as Record<string, unknown>;
  const parts: string[] = [];
  const enumName = ENUM_OF[kind];
  if (typeof p.from === 'string' && typeof p.to === 'string' && enumName) {
    parts.push(`${e(enumName, p.from)} → ${e(enumName, p.to)}`);
  }
  for (const [k, v] of Object.entries(p)) {
    if (k === 'from' || k === 'to' || HIDDEN_KEYS.has(k) || /Id$|_id$|^id$/.test(k) || v == null || v === '') continue;
    if (KEY_ENUM[k] && typeof v === 'string') parts.push(e(KEY_ENUM[k], v));
    else if (k === 'status' && typeof v === 'string') parts.push(e(kind === 'STATUS_CHANGED' ? 'CaseStatus' : 'ReferralStatus', v));
    else if (k === 'outcomes' && Array.isArray(v)) parts.push(v.map((x) => e('Outcome', String(x))).join('・'));
    else if (typeof v === 'string' || typeof v === 'number') parts.push(String(v));
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) parts.push(v.join('、'));
  }
  return parts.join(' / ');
}

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
            {describePayload(ev.kind, ev.payload, e) && <span className="tl-detail"> — {describePayload(ev.kind, ev.payload, e)}</span>}
          </div>
        </li>
      ))}
    </ol>
  );
}
