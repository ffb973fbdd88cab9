// The hand-off of a case's access to its business: reference and code (in
// groups that never wrap mid-group), a status link that carries both in the
// URL fragment (never sent to the server, nor in a Referer), a copy button, a
// QR code of the link and a printable slip.
import { useEffect, useState } from 'react';
import { useApp } from '../app/context';
import { statusLink } from '../lib/statusLink';

/** The QR code of `text` as SVG squares, drawn once the encoder has loaded (its own chunk). */
function QrCode({ text, label }: { text: string; label: string }) {
  const [cells, setCells] = useState<boolean[][] | null>(null);
  useEffect(() => {
    let live = true;
    import('qrcode-generator').then(({ default: qrcode }) => {
      const qr = qrcode(0, 'M');
      qr.addData(text);
      qr.make();
      const n = qr.getModuleCount();
      const grid = Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => qr.isDark(r, c)));
      if (live) setCells(grid);
    });
    return () => {
      live = false;
    };
  }, [text]);
  if (!cells) return <div className="qr qr-pending" aria-hidden="true" />;
  const n = cells.length;
  let d = '';
  cells.forEach((row, r) => row.forEach((dark, c) => {
    if (dark) d += `M${c + 4} ${r + 4}h1v1h-1z`;
  }));
  return (
    <svg className="qr" viewBox={`0 0 ${n + 8} ${n + 8}`} role="img" aria-label={label} data-testid="status-qr" shapeRendering="crispEdges">
      <rect width={n + 8} height={n + 8} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}

/** A code shown as its groups, each kept on one line. */
export function GroupedCode({ code, testId }: { code: string; testId?: string }) {
  return (
    <span className="mono big grouped-code" data-testid={testId} data-code={code}>
      {code.split('-').map((g, i) => (
        <span key={i} className="code-group">
          {i > 0 && <span className="code-sep" aria-hidden="true">-</span>}
          {g}
        </span>
      ))}
    </span>
  );
}

export function AccessHandoff({ reference, accessCode, contact, testPrefix }: {
  reference: string;
  accessCode: string;
  /** The desk's contact line for the printed slip. */
  contact?: string | null;
  testPrefix: string;
}) {
  const { t } = useApp();
  const link = statusLink(reference, accessCode);
  const [copied, setCopied] = useState<'link' | 'code' | 'failed' | null>(null);
  const copy = async (what: 'link' | 'code') => {
    const text = what === 'link' ? link : `${t('reference')}: ${reference}\n${t('accessCode')}: ${accessCode}\n${link}`;
    try {
      await navigator.clipboard.writeText(text);
      setCopied(what);
    } catch {
      setCopied('failed');
    }
  };
  return (
    <div className="card once-box handoff-slip" role="status" aria-live="polite">
      <p className="slip-title print-only">{t('appName')} — {t('slipTitle')}</p>
      <dl className="code-pair">
        <dt>{t('reference')}</dt>
        <dd><GroupedCode code={reference} testId={`${testPrefix}-reference`} /></dd>
        <dt>{t('accessCode')}</dt>
        <dd><GroupedCode code={accessCode} testId={`${testPrefix}-access-code`} /></dd>
      </dl>
      <div className="handoff-link">
        <QrCode text={link} label={t('statusQrLabel')} />
        <div className="stack-tight">
          <p className="small">{t('statusLinkLead')}</p>
          <a href={link} className="status-link mono" data-testid={`${testPrefix}-status-link`} target="_blank" rel="noreferrer noopener">
            {link}
          </a>
          {contact && <p className="small slip-contact">{t('deskContact')}: {contact}</p>}
        </div>
      </div>
      <div className="btn-row no-print">
        <button type="button" className="btn btn-primary" onClick={() => copy('link')} data-testid={`${testPrefix}-copy-link`}>
          {t('copyStatusLink')}
        </button>
        <button type="button" className="btn" onClick={() => copy('code')}>
          {t('copyCode')}
        </button>
        <button type="button" className="btn" onClick={() => window.print()} data-testid={`${testPrefix}-print`}>
          {t('printSlip')}
        </button>
      </div>
      <p className="small no-print" aria-live="polite" data-testid={`${testPrefix}-copied`}>
        {copied === 'link' && t('copiedLink')}
        {copied === 'code' && t('copiedCode')}
        {copied === 'failed' && t('copyFailed')}
      </p>
      <p className="warning-text no-print">{t('handoffKeep')}</p>
    </div>
  );
}
