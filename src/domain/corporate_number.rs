//! 法人番号 (Japanese corporate number): 13 digits, the first being a check digit over the other 12.

use super::error::{DomainError, DomainResult};
use super::text::{is_hyphen_like, to_halfwidth};

const FIELD: &str = "corporateNumber";

/// A verified 法人番号: exactly 13 ASCII digits whose first digit is the
/// correct check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CorporateNumber(String);

impl CorporateNumber {
    /// Parses user input: full-width digits are accepted, spaces and hyphens
    /// are ignored; the result must be 13 digits with a valid check digit.
    pub fn parse(input: &str) -> DomainResult<Self> {
        let mut digits = String::with_capacity(13);
        for c in input.chars().map(to_halfwidth) {
            if c.is_whitespace() || is_hyphen_like(c) {
                continue;
            }
            if !c.is_ascii_digit() {
                return Err(DomainError::invalid(
                    Some(FIELD),
                    "法人番号は13桁の数字で入力してください",
                    "The corporate number must be 13 digits",
                ));
            }
            digits.push(c);
        }
        let n = digits.len();
        if n != 13 {
            return Err(DomainError::invalid(
                Some(FIELD),
                format!("法人番号は13桁の数字で入力してください（入力は{n}桁です）"),
                format!("The corporate number must be 13 digits (got {n})"),
            ));
        }
        let given = digits.as_bytes()[0] - b'0';
        if given != check_digit(&digits[1..]) {
            return Err(DomainError::invalid(
                Some(FIELD),
                "法人番号が正しくありません（チェックデジットが一致しません）。番号をご確認ください",
                "The corporate number is not valid (check digit mismatch)",
            ));
        }
        Ok(CorporateNumber(digits))
    }

    /// The 13 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 13 digits, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for CorporateNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for CorporateNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The check digit of a 12-digit body: 9 − (Σ Pn×Qn mod 9), where Pn is the
/// n-th digit counted from the right (n = 1…12) and Qn is 1 for odd n, 2 for
/// even n. The result is always 1…9. Callers pass 12 ASCII digits; any
/// non-digit character is skipped (it never panics).
pub fn check_digit(body12: &str) -> u8 {
    let sum: u32 = body12
        .bytes()
        .filter(u8::is_ascii_digit)
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let p = u32::from(b - b'0');
            // i is 0-based, so n = i + 1: odd n ⇔ even i
            if i % 2 == 0 {
                p
            } else {
                2 * p
            }
        })
        .sum();
    9 - (sum % 9) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_numbers() {
        // 国税庁
        assert_eq!(check_digit("000012050002"), 7);
        assert_eq!(
            CorporateNumber::parse("7000012050002").unwrap().as_str(),
            "7000012050002"
        );
        // 東京都 (8000020130001)
        assert!(CorporateNumber::parse("8000020130001").is_ok());
        // 青森県: body 000020020001 (地方公共団体コード 020001) gives check digit 2,
        // so the number is 2000020020001, not 8000020020001.
        assert_eq!(check_digit("000020020001"), 2);
        assert!(CorporateNumber::parse("2000020020001").is_ok());
        assert!(CorporateNumber::parse("8000020020001").is_err());
    }

    #[test]
    fn lenient_input() {
        let n = CorporateNumber::parse("７０００ ０１２－０５０００２").unwrap();
        assert_eq!(n.to_string(), "7000012050002");
        let n = CorporateNumber::parse(" 7-0000-1205-0002 ").unwrap();
        assert_eq!(n.into_string(), "7000012050002");
    }

    #[test]
    fn errors_name_the_field() {
        for bad in [
            "",
            "700001205000",
            "70000120500021",
            "7000O12050002",
            "6000012050002",
        ] {
            let e = CorporateNumber::parse(bad).unwrap_err();
            assert_eq!(e.field(), Some("corporateNumber"), "{bad}");
            assert!(matches!(e, DomainError::Invalid { .. }));
        }
        let e = CorporateNumber::parse("12345").unwrap_err();
        assert!(e.message_ja().contains("5桁"));
    }

    #[test]
    fn check_digit_is_never_zero() {
        assert_eq!(check_digit("000000000000"), 9);
        assert_eq!(check_digit("999999999999"), 9 - (9 * 18 % 9) as u8);
    }

    proptest! {
        #[test]
        fn body_with_its_check_digit_parses(body in "[0-9]{12}", other in 0u8..10) {
            let cd = check_digit(&body);
            prop_assert!((1..=9).contains(&cd));
            let good = format!("{cd}{body}");
            let parsed = CorporateNumber::parse(&good).unwrap();
            prop_assert_eq!(parsed.as_str(), good.as_str());
            if other != cd {
                let bad = format!("{other}{body}");
                prop_assert!(CorporateNumber::parse(&bad).is_err());
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = CorporateNumber::parse(&s);
            let _ = check_digit(&s);
        }
    }
}
