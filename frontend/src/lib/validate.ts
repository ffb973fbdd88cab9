// Small client-side checks, so that forms can say what is wrong before sending.
// Rules of the domain (法人番号, transitions…) are the API's alone: its field errors are shown next to the field.

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
