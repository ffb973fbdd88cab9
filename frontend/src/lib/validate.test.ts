import { describe, expect, it } from 'vitest';
import { isEmail, isValidCorporateNumber, parseTopics } from './validate';

describe('corporate number (法人番号)', () => {
  it('accepts valid numbers', () => {
    // National Tax Agency examples
    expect(isValidCorporateNumber('8700110005901')).toBe(true);
    expect(isValidCorporateNumber('2021001052596')).toBe(true);
  });
  it('rejects a wrong check digit, wrong length or non-digits', () => {
    expect(isValidCorporateNumber('1700110005901')).toBe(false);
    expect(isValidCorporateNumber('870011000590')).toBe(false);
    expect(isValidCorporateNumber('87001100059O1')).toBe(false);
  });
});

describe('small parsers', () => {
  it('splits topics on Japanese and ASCII commas, dropping duplicates', () => {
    expect(parseTopics('IoT、補助金, AI，IoT')).toEqual(['IoT', '補助金', 'AI']);
    expect(parseTopics('  ')).toEqual([]);
  });
  it('checks email shape', () => {
    expect(isEmail('a@b.jp')).toBe(true);
    expect(isEmail('a@b')).toBe(false);
  });
});
