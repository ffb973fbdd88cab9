// The fields of a business (staff intake and the public form share them).
import { useApp } from '../app/context';
import type { Lang, MsgKey } from '../lib/i18n';
import { enumValues } from '../lib/i18n';
import { isEmail } from '../lib/validate';
import { SelectField, TextField, useEnumOptions } from './ui';

export interface BusinessDraft {
  name: string;
  corporateNumber: string;
  industry: string;
  municipality: string;
  contactName: string;
  email: string;
  phone: string;
}

export const emptyBusiness: BusinessDraft = { name: '', corporateNumber: '', industry: '', municipality: '', contactName: '', email: '', phone: '' };

export interface RegionLike {
  code: string;
  name: string;
  municipalities: string[];
}

const MSG: Record<string, [string, string]> = {
  email: ['メールアドレスの形式が正しくありません。', 'The email address is not valid.'],
};

export function validateBusiness(b: BusinessDraft, uiLang: Lang, t: (k: MsgKey) => string, opts: { contactRequired?: boolean } = {}): Record<string, string> {
  const lang = uiLang === 'ja' ? 0 : 1;
  const errs: Record<string, string> = {};
  if (!b.name.trim()) errs.name = t('businessNameMissing');
  // 法人番号 is checked by the API only (it accepts full-width digits and hyphens);
  // its error comes back with extensions.field and is shown next to the field.
  if (b.email.trim() && !isEmail(b.email.trim())) errs.email = MSG.email[lang];
  if (opts.contactRequired) {
    if (!b.contactName.trim()) errs.contactName = t('contactNameMissing');
    if (!b.email.trim() && !b.phone.trim()) errs.email = t('emailOrPhoneMissing');
  }
  return errs;
}

export function BusinessFields({
  value,
  onChange,
  errors,
  regions,
  idPrefix,
  contactRequired,
}: {
  value: BusinessDraft;
  onChange: (b: BusinessDraft) => void;
  errors: Record<string, string>;
  regions: RegionLike[];
  idPrefix: string;
  contactRequired?: boolean;
}) {
  const { t } = useApp();
  const industryOpts = useEnumOptions('Industry', enumValues('Industry')).map((o) => ({ value: o.value, label: `${o.value}: ${o.label}` }));
  const set = (k: keyof BusinessDraft) => (ev: { target: { value: string } }) => onChange({ ...value, [k]: ev.target.value });
  const id = (k: string) => `${idPrefix}-${k}`;
  return (
    <div className="business-fields">
      <TextField id={id('name')} label={t('businessName')} required value={value.name} onChange={set('name')} error={errors.name} autoComplete="organization" />
      <div className="grid-2">
        <TextField id={id('corporateNumber')} label={t('corporateNumber')} hint={t('corporateNumberHint')} inputMode="numeric" maxLength={13} value={value.corporateNumber} onChange={set('corporateNumber')} error={errors.corporateNumber} />
        <SelectField id={id('industry')} label={t('industry')} value={value.industry} onChange={set('industry')} options={industryOpts} empty="—" error={errors.industry} />
      </div>
      <div className="field">
        <label htmlFor={id('municipality')}>{t('municipality')}</label>
        <select id={id('municipality')} value={value.municipality} onChange={set('municipality')} aria-invalid={errors.municipality ? true : undefined} aria-describedby={errors.municipality ? `${id('municipality')}-err` : undefined}>
          <option value="">—</option>
          {regions.map((r) => (
            <optgroup key={r.code} label={r.name}>
              {r.municipalities.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
        <p className="field-error" id={`${id('municipality')}-err`} aria-live="polite">
          {errors.municipality ?? ''}
        </p>
      </div>
      {contactRequired && (
        <p className="hint" id={id('contact-hint')} data-testid="email-or-phone-hint">
          {t('emailOrPhoneHint')}
        </p>
      )}
      <div className="grid-3">
        <TextField id={id('contactName')} label={t('contactName')} required={contactRequired} value={value.contactName} onChange={set('contactName')} error={errors.contactName} autoComplete="name" />
        <TextField id={id('email')} label={t('email')} type="email" value={value.email} onChange={set('email')} error={errors.email} autoComplete="email" />
        <TextField id={id('phone')} label={t('phone')} type="tel" value={value.phone} onChange={set('phone')} error={errors.phone} autoComplete="tel" />
      </div>
    </div>
  );
}

/** The GraphQL input for a business typed into the form (empty fields as null). */
export function toBusinessInput(b: BusinessDraft) {
  const opt = (s: string) => (s.trim() ? s.trim() : null);
  return {
    name: b.name.trim(),
    corporateNumber: opt(b.corporateNumber),
    industry: opt(b.industry),
    municipality: opt(b.municipality),
    contactName: opt(b.contactName),
    email: opt(b.email),
    phone: opt(b.phone),
  };
}
