import { describe, expect, it } from 'vitest';
import { enumLabel, enumValues, initialLang, translate } from './i18n';

describe('i18n', () => {
  it('Japanese first', () => {
    expect(initialLang(null)).toBe('ja');
    expect(initialLang('xx')).toBe('ja');
    expect(initialLang('en')).toBe('en');
  });
  it('translates and fills placeholders', () => {
    expect(translate('ja', 'resultCount', { n: 12 })).toBe('12件');
    expect(translate('en', 'resultCount', { n: 12 })).toBe('12 cases');
    expect(translate('en', 'showingOf', { shown: '1–20', total: 45 })).toBe('Showing 1–20 of 45');
  });
  it('has the exact product wording', () => {
    expect(translate('ja', 'staleVersion')).toBe('他の担当者がこの案件を更新しました。最新の内容を読み込みました。');
    expect(translate('ja', 'statusNotFound')).toBe('受付番号またはアクセスコードが正しくありません');
    expect(enumLabel('ja', 'NoteVisibility', 'DESK')).toBe('窓口のみ');
    expect(enumLabel('ja', 'NoteVisibility', 'PARTNERS')).toBe('窓口と紹介先機関');
    expect(enumLabel('ja', 'NoteVisibility', 'BUSINESS')).toBe('事業者にも公開');
    expect(translate('ja', 'consentPurpose')).toContain('ラボの連携機関（産業支援機関・大学・金融機関等）へ提供することに同意します');
  });
  it('labels enums in both languages, unknown values as is', () => {
    expect(enumLabel('ja', 'Stage', 'KNOW')).toBe('知る');
    expect(enumLabel('en', 'Stage', 'TRY')).toBe('Try');
    expect(enumLabel('ja', 'Outcome', 'DX_CERTIFIED')).toBe('DX認定取得');
    expect(enumLabel('ja', 'Stage', 'NEW_THING')).toBe('NEW_THING');
    expect(enumLabel('ja', 'Stage', null)).toBe('—');
    expect(enumValues('Industry')).toHaveLength(20);
  });
  it('every English message is filled in', () => {
    for (const k of ['appName', 'signIn', 'staleVersion'] as const) {
      expect(translate('en', k)).not.toBe(translate('ja', k));
    }
  });
});
