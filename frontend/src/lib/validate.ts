// Client-side checks that mirror the API's, so that forms can say what is wrong before sending.
// The API stays the judge: its messages are shown next to the field as well.

/** 法人番号: 13 digits, the first a check digit = 9 − (Σ Pn×Qn mod 9), n counted from the right of the other 12. */
export function isValidCorporateNumber(s: string): boolean {
  if (!/^\d{13}$/.test(s)) return false;
  const digits = s.split('').map(Number);
  const check = digits[0];
  const body = digits.slice(1); // 12 digits, left to right
  let sum = 0;
  for (let n = 1; n <= 12; n++) {
    const p = body[12 - n];
    sum += p * (n % 2 === 1 ? 1 : 2);
  }
  return check === 9 - (sum % 9);
}

export function isEmail(s: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s);
}

/** 「IoT、補助金, AI」 → ['IoT', '補助金', 'AI'] */
export function parseTopics(s: string): string[] {
  return Array.from(
    new Set(
      s
        .split(/[,、，\n]/)
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  );
}
