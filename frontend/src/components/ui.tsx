// Small building blocks shared by the pages: states, banners, form fields, badges.
import { useEffect, useState, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from 'react';
import { useApp } from '../app/context';
import { placeError } from '../lib/errors';
import type { EnumName } from '../lib/labels';

export function Loading({ label }: { label?: string }) {
  const { t } = useApp();
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label ?? t('loading')}
    </div>
  );
}

export function ErrorState({ error, onRetry }: { error: Error; onRetry?: () => void }) {
  const { t } = useApp();
  return (
    <div className="banner banner-error" role="alert">
      <p>
        <strong>{t('error')}:</strong> {error.message}
      </p>
      {onRetry && (
        <button type="button" className="btn btn-secondary" onClick={onRetry}>
          {t('retry')}
        </button>
      )}
    </div>
  );
}

/** A message region that screen readers announce (aria-live). Always rendered so the live region exists. */
export function Banner({ kind = 'info', children }: { kind?: 'info' | 'error' | 'success' | 'warning'; children?: ReactNode }) {
  return (
    <div className={children ? `banner banner-${kind}` : 'banner-empty'} role={kind === 'error' ? 'alert' : 'status'} aria-live={kind === 'error' ? 'assertive' : 'polite'}>
      {children}
    </div>
  );
}

export interface FormErrors {
  fields: Record<string, string>;
  banner: string | null;
  success: string | null;
  setError: (err: unknown) => void;
  setSuccess: (msg: string | null) => void;
  setField: (field: string, msg: string) => void;
  clear: () => void;
}

/** Error placement for a form: API errors naming one of `fieldNames` go beside it, others to the banner. */
export function useFormErrors(fieldNames: readonly string[]): FormErrors {
  const [fields, setFields] = useState<Record<string, string>>({});
  const [banner, setBanner] = useState<string | null>(null);
  const [success, setSuccess] = useState<string | null>(null);
  const [shown, setShown] = useState(0);
  // bring the error to the user: focus the first invalid control, else show the banner
  useEffect(() => {
    if (shown === 0) return;
    const id = requestAnimationFrame(() => {
      const invalid = document.querySelector<HTMLElement>('[aria-invalid="true"]');
      if (invalid) invalid.focus();
      else document.querySelector('.banner-error')?.scrollIntoView({ block: 'center' });
    });
    return () => cancelAnimationFrame(id);
  }, [shown]);
  return {
    fields,
    banner,
    success,
    setError: (err) => {
      const placed = placeError(err, fieldNames);
      setSuccess(null);
      setShown((n) => n + 1);
      if (placed.field) {
        setFields({ [placed.field]: placed.message });
        setBanner(null);
      } else {
        setFields({});
        setBanner(placed.message);
      }
    },
    setSuccess: (m) => {
      setSuccess(m);
      if (m) {
        setBanner(null);
        setFields({});
      }
    },
    setField: (f, m) => {
      setFields((x) => ({ ...x, [f]: m }));
      setShown((n) => n + 1);
    },
    clear: () => {
      setFields({});
      setBanner(null);
      setSuccess(null);
    },
  };
}

export function FormMessages({ form }: { form: FormErrors }) {
  return (
    <>
      <Banner kind="error">{form.banner}</Banner>
      <Banner kind="success">{form.success}</Banner>
    </>
  );
}

interface FieldProps {
  id: string;
  label: ReactNode;
  error?: string;
  hint?: ReactNode;
  required?: boolean;
}

function FieldShell({ id, label, error, hint, required, children }: FieldProps & { children: ReactNode }) {
  const { t } = useApp();
  return (
    <div className={error ? 'field field-invalid' : 'field'}>
      <label htmlFor={id}>
        {label}
        {required && <span className="req"> ({t('required')})</span>}
      </label>
      {hint && (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {children}
      <p className="field-error" id={`${id}-err`} aria-live="polite">
        {error ?? ''}
      </p>
    </div>
  );
}

function describedBy(id: string, hint: unknown, error?: string) {
  return [hint ? `${id}-hint` : null, error ? `${id}-err` : null].filter(Boolean).join(' ') || undefined;
}

export function TextField({ id, label, error, hint, required, ...rest }: FieldProps & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <FieldShell id={id} label={label} error={error} hint={hint} required={required}>
      <input id={id} name={id} required={required} aria-invalid={error ? true : undefined} aria-describedby={describedBy(id, hint, error)} {...rest} />
    </FieldShell>
  );
}

export function TextArea({ id, label, error, hint, required, ...rest }: FieldProps & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  return (
    <FieldShell id={id} label={label} error={error} hint={hint} required={required}>
      <textarea id={id} name={id} required={required} rows={4} aria-invalid={error ? true : undefined} aria-describedby={describedBy(id, hint, error)} {...rest} />
    </FieldShell>
  );
}

export function SelectField({
  id,
  label,
  error,
  hint,
  required,
  options,
  empty,
  ...rest
}: FieldProps & SelectHTMLAttributes<HTMLSelectElement> & { options: { value: string; label: string }[]; empty?: string }) {
  return (
    <FieldShell id={id} label={label} error={error} hint={hint} required={required}>
      <select id={id} name={id} required={required} aria-invalid={error ? true : undefined} aria-describedby={describedBy(id, hint, error)} {...rest}>
        {empty != null && <option value="">{empty}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </FieldShell>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const { e } = useApp();
  return <span className={`badge badge-status-${status.toLowerCase()}`}>{e('CaseStatus', status)}</span>;
}

export function StageBadge({ stage }: { stage: string }) {
  const { e } = useApp();
  return <span className={`badge badge-stage-${stage.toLowerCase()}`}>{e('Stage', stage)}</span>;
}

export function ReferralBadge({ status, overdue }: { status: string; overdue?: boolean }) {
  const { e, t } = useApp();
  return (
    <span className={`badge badge-ref-${status.toLowerCase()}`}>
      {e('ReferralStatus', status)}
      {overdue ? ` · ${t('overdue')}` : ''}
    </span>
  );
}

export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  return (
    <div className="page-title">
      <h1 tabIndex={-1}>{children}</h1>
      {actions && <div className="page-actions">{actions}</div>}
    </div>
  );
}

/** Options of an enum for a <select>, labelled in the UI language. */
export function useEnumOptions(enumName: EnumName, values: readonly string[]) {
  const { e } = useApp();
  return values.map((v) => ({ value: v, label: e(enumName, v) }));
}

/** A wide table's scroll box: it scrolls inside its card, and by keyboard (a focusable, labelled region). */
export function TableScroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/** Which action panels of a page are open: kept by the page, so a reload after a write keeps them as they were. */
export interface Panels {
  isOpen: (name: string, byDefault?: boolean) => boolean;
  set: (name: string, open: boolean) => void;
}

export function usePanels(): Panels {
  const [open, setOpen] = useState<Record<string, boolean>>({});
  return {
    isOpen: (name, byDefault = false) => open[name] ?? byDefault,
    set: (name, value) => setOpen((o) => (o[name] === value ? o : { ...o, [name]: value })),
  };
}

/**
 * An action form collapsed until used (a disclosure with the action as its summary). Its content mounts
 * only while open, so a closed panel asks the API nothing.
 */
export function ActionDetails({ name, summary, panels, byDefault = false, children }: { name: string; summary: string; panels: Panels; byDefault?: boolean; children: ReactNode }) {
  const open = panels.isOpen(name, byDefault);
  return (
    <details className="control-box action-details" data-testid={`${name}-details`} open={open} onToggle={(ev) => {
        // the browser also fires toggle when the page first renders it open: record only a change
        const now = (ev.currentTarget as HTMLDetailsElement).open;
        if (now !== open) panels.set(name, now);
      }}>
      <summary>{summary}</summary>
      {open && children}
    </details>
  );
}
