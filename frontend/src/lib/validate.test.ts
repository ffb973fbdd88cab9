import { describe, expect, it } from 'vitest';
import { isEmail, parseTopics } from './validate';

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
