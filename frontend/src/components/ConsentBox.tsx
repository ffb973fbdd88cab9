// The APPI consent to third-party provision, with its purpose spelled out.
import { useApp } from '../app/context';

export function ConsentBox({ id, checked, onChange, label, error, staffHint }: { id: string; checked: boolean; onChange: (v: boolean) => void; label: string; error?: string; staffHint?: boolean }) {
  const { t } = useApp();
  return (
    <fieldset className={error ? 'card consent field-invalid' : 'card consent'}>
      <legend>{t('consent')}</legend>
      <p className="consent-purpose" id={`${id}-purpose`}>
        {t('consentPurpose')}
      </p>
      <div className="field-check">
        <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} aria-describedby={`${id}-purpose ${id}-err`} aria-invalid={error ? true : undefined} />
        <label htmlFor={id}>{label}</label>
      </div>
      {staffHint && !checked && <p className="hint">{t('consentMissing')}</p>}
      <p className="field-error" id={`${id}-err`} aria-live="polite">
        {error ?? ''}
      </p>
    </fieldset>
  );
}
