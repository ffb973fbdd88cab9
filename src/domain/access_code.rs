//! Access codes for the business's no-login status check: generation, normalisation, hashing and verification.
//!
//! A code is 12 symbols of Crockford's base32 alphabet (`0-9 A-Z` without
//! `I L O U`), i.e. 60 bits from the OS random source, shown in 3 groups of
//! 4: `K7QM-3VXD-9PRT` — short enough to read over the phone; the throttles of
//! `caseStatus` make guessing it hopeless (the arithmetic is in DESIGN.md,
//! "Access codes"). Codes issued before (28 symbols, 7 groups) keep working.
//! Input is forgiving: case, spaces, hyphens and
//! full-width characters are ignored, and the look-alikes `O → 0`, `I/L → 1`
//! are mapped as Crockford specifies. Only a domain-separated SHA-256 of the
//! normalised code is stored.

use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::text::{is_hyphen_like, to_halfwidth};

/// Crockford's base32 alphabet (no I, L, O, U).
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Number of symbols in a new code (12 × 5 = 60 bits).
pub const SYMBOLS: usize = 12;
/// Number of symbols in a code issued by release 0.1 (still accepted).
pub const LEGACY_SYMBOLS: usize = 28;
/// Symbols per displayed group.
pub const GROUP: usize = 4;
/// Prefix hashed before the code, so the hash is useless anywhere else.
const HASH_DOMAIN: &str = "dxdesk-access-code:";

/// A fresh random access code in display form, e.g. `K7QM-3VXD-9PRT` (3 groups of 4).
pub fn generate() -> String {
    let mut bytes = [0u8; SYMBOLS];
    OsRng.fill_bytes(&mut bytes);
    // 256 is a multiple of 32, so `b & 31` is uniform over the alphabet.
    let symbols: Vec<u8> = bytes.iter().map(|b| ALPHABET[(b & 31) as usize]).collect();
    group(&symbols)
}

fn group(symbols: &[u8]) -> String {
    symbols
        .chunks(GROUP)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// Normalises user input to the display form that [`generate`] produces (or
/// that release 0.1 produced, for its 28-symbol codes), or `None` if it is not
/// a code (wrong length or a character outside the alphabet).
pub fn normalize(input: &str) -> Option<String> {
    let mut symbols = Vec::with_capacity(LEGACY_SYMBOLS);
    for c in input.chars().map(to_halfwidth) {
        if c.is_whitespace() || is_hyphen_like(c) {
            continue;
        }
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        symbols.push(c as u8);
        if symbols.len() > LEGACY_SYMBOLS {
            return None;
        }
    }
    matches!(symbols.len(), SYMBOLS | LEGACY_SYMBOLS).then(|| group(&symbols))
}

/// The stored form of a code: lower-case hex SHA-256 of
/// `"dxdesk-access-code:" + normalize(code)`. Input that does not normalise is
/// hashed as given (trimmed), so it can never match the hash of a real code.
pub fn hash(code: &str) -> String {
    let canonical = normalize(code).unwrap_or_else(|| code.trim().to_owned());
    let mut h = Sha256::new();
    h.update(HASH_DOMAIN.as_bytes());
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// Whether `input` is the code whose hash is `stored_hash`. The comparison
/// takes the same time wherever the hashes differ.
pub fn verify(input: &str, stored_hash: &str) -> bool {
    let candidate = hash(input);
    let well_formed = normalize(input).is_some();
    constant_time_eq(candidate.as_bytes(), stored_hash.trim().as_bytes()) && well_formed
}

/// Compares two byte strings (ASCII case-insensitively) in constant time.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let a = a.to_ascii_lowercase();
    let b = b.to_ascii_lowercase();
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn shape() {
        let c = generate();
        assert_eq!(c.len(), SYMBOLS + SYMBOLS / GROUP - 1);
        let groups: Vec<&str> = c.split('-').collect();
        assert_eq!(groups.len(), 3);
        assert!(groups.iter().all(|g| g.len() == 4));
        assert!(c.bytes().all(|b| b == b'-' || ALPHABET.contains(&b)));
        assert!(!c.contains(['I', 'L', 'O', 'U']));
    }

    #[test]
    fn many_distinct() {
        let codes: HashSet<String> = (0..2000).map(|_| generate()).collect();
        assert_eq!(codes.len(), 2000);
    }

    #[test]
    fn hash_and_verify() {
        let c = generate();
        let h = hash(&c);
        assert_ne!(h, c);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&c));
        assert!(verify(&c, &h));
        assert!(verify(&c.to_lowercase(), &h));
        assert!(verify(&c.replace('-', " "), &h));
        assert!(verify(&c.replace('-', ""), &h));
        assert!(verify(
            &format!("  {}  ", c.to_lowercase().replace('-', "  ")),
            &h
        ));
        assert!(verify(&c, &h.to_uppercase()));
        // full-width input
        let wide: String = c
            .chars()
            .map(|ch| char::from_u32(ch as u32 + 0xFEE0).unwrap())
            .collect();
        assert!(verify(&wide, &h));
        assert!(!verify(&generate(), &h));
        assert!(!verify("", &h));
        assert!(!verify(&c, ""));
        assert!(!verify(&c, "not a hash"));
    }

    /// A code of release 0.1 (28 symbols) still normalises, hashes as it did
    /// and verifies; lengths in between are not codes.
    #[test]
    fn legacy_codes_keep_working() {
        let old = "K7QM-3VXD-9PRT-0000-AAAA-BBBB-CCCC";
        assert_eq!(
            normalize(&old.replace('-', "").to_lowercase()).as_deref(),
            Some(old)
        );
        // The stored hash of release 0.1: SHA-256 of the domain and the grouped code.
        let stored = hex::encode(Sha256::digest(format!("{HASH_DOMAIN}{old}").as_bytes()));
        assert!(verify(old, &stored));
        assert_eq!(normalize("K7QM-3VXD-9PRT-0000"), None);
        assert_eq!(normalize("K7QM-3VXD-9PR"), None);
        assert_eq!(normalize("K7QM3VXD9PRT").as_deref(), Some("K7QM-3VXD-9PRT"));
    }

    #[test]
    fn look_alikes() {
        let n = normalize("oiLl-0000-0000-0000-0000-0000-0000").unwrap();
        assert_eq!(n, "0111-0000-0000-0000-0000-0000-0000");
        assert_eq!(hash("oiLl0000000000000000000000 00"), hash(&n));
        assert_eq!(normalize("U000-0000-0000-0000-0000-0000-0000"), None);
        assert_eq!(normalize("0000-0000"), None);
        assert_eq!(normalize("0000-0000-0000-0000-0000-0000-00000"), None);
        assert_eq!(normalize("あ000-0000-0000-0000-0000-0000-000"), None);
    }

    #[test]
    fn hash_is_domain_separated() {
        let n = "0000-0000-0000-0000-0000-0000-0000";
        let plain = hex::encode(Sha256::digest(n.as_bytes()));
        assert_ne!(hash(n), plain);
    }

    proptest! {
        #[test]
        fn generate_round_trips(_i in 0..50u8) {
            let c = generate();
            prop_assert_eq!(normalize(&c), Some(c.clone()));
            prop_assert_eq!(normalize(&c.to_lowercase()), Some(c.clone()));
        }

        #[test]
        fn normalize_is_idempotent(s in "[0-9A-Za-z \\-]{0,40}") {
            if let Some(n) = normalize(&s) {
                prop_assert_eq!(normalize(&n), Some(n.clone()));
                prop_assert_eq!(hash(&s), hash(&n));
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let _ = normalize(&s);
            let _ = verify(&s, &hash(&s));
        }
    }
}
