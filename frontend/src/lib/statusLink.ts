// The status link: `/status#ref=…&code=…`. Both travel in the fragment, which
// browsers never send to the server or in a Referer header.

export function statusLink(reference: string, accessCode: string, origin = location.origin): string {
  const f = new URLSearchParams({ ref: reference, code: accessCode });
  return `${origin}/status#${f.toString()}`;
}

/** The reference and code a status link carries, if the fragment has both. */
export function fromFragment(hash: string): { reference: string; accessCode: string } | null {
  const f = new URLSearchParams(hash.replace(/^#/, ''));
  const reference = f.get('ref')?.trim();
  const accessCode = f.get('code')?.trim();
  return reference && accessCode ? { reference, accessCode } : null;
}
