//! Human case references such as `AOM-2026-000123` (lab code, calendar year, sequence).

use super::text::{is_hyphen_like, to_halfwidth};

/// Formats a reference: upper-cased lab code, the year, and the sequence
/// zero-padded to 6 digits (wider when needed): `AOM-2026-000123`.
pub fn format_reference(lab_code: &str, year: i32, seq: i64) -> String {
    format!(
        "{}-{year:04}-{seq:06}",
        lab_code.trim().to_ascii_uppercase()
    )
}

/// Parses a reference typed by a person. Surrounding spaces, case, full-width
/// characters and hyphen look-alikes are tolerated, and the sequence may be
/// typed without its leading zeros (`aom-2026-123`). The lab code is 1–16
/// ASCII letters/digits starting with a letter, the year 4 digits, the
/// sequence 1–18 digits and at least 1. Returns `(lab_code, year, seq)`.
pub fn parse_reference(s: &str) -> Option<(String, i32, i64)> {
    let norm: String = s
        .trim()
        .chars()
        .map(to_halfwidth)
        .map(|c| if is_hyphen_like(c) { '-' } else { c })
        .collect::<String>()
        .trim()
        .to_ascii_uppercase();
    let mut parts = norm.split('-');
    let (lab, year, seq) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let lab_ok = (1..=16).contains(&lab.len())
        && lab.starts_with(|c: char| c.is_ascii_uppercase())
        && lab
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let year_ok = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
    let seq_ok = (1..=18).contains(&seq.len()) && seq.bytes().all(|b| b.is_ascii_digit());
    if !(lab_ok && year_ok && seq_ok) {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    let seq: i64 = seq.parse().ok()?;
    (seq >= 1).then(|| (lab.to_owned(), year, seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats() {
        assert_eq!(format_reference("AOM", 2026, 123), "AOM-2026-000123");
        assert_eq!(format_reference("kod", 2025, 1), "KOD-2025-000001");
        assert_eq!(format_reference("AOM", 2026, 1_234_567), "AOM-2026-1234567");
    }

    #[test]
    fn parses() {
        let want = Some(("AOM".to_owned(), 2026, 123));
        assert_eq!(parse_reference("AOM-2026-000123"), want);
        assert_eq!(parse_reference("  aom-2026-000123 "), want);
        assert_eq!(parse_reference("ＡＯＭ－２０２６－０００１２３"), want);
        assert_eq!(parse_reference("AOM-2026-123"), want);
        assert_eq!(
            parse_reference("AOM-2026-1234567"),
            Some(("AOM".to_owned(), 2026, 1_234_567))
        );
        for bad in [
            "",
            "AOM",
            "AOM-2026",
            "AOM-2026-",
            "AOM-26-000123",
            "AOM-2026-000000",
            "AOM-2026-00012A",
            "AOM-2026-000123-1",
            "1AB-2026-000123",
            "A_B-2026-000123",
            "AOM-2026--000123",
            "AOM-2026-1234567890123456789",
        ] {
            assert_eq!(parse_reference(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(lab in "[A-Z][A-Z0-9]{0,15}", year in 1000i32..10000, seq in 1i64..1_000_000_000_000) {
            let r = format_reference(&lab, year, seq);
            prop_assert_eq!(parse_reference(&r), Some((lab.clone(), year, seq)));
            prop_assert_eq!(parse_reference(&r.to_lowercase()), Some((lab, year, seq)));
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_reference(&s);
        }
    }
}
